"""Files as answers: upload slots, the content checks, downloads, recording consent and
retention (issue 17). The bytes live in the file store (``workforce.storage``)."""
