"""Qualifications and assessment authoring (staff), and a trainer's qualifications."""

from __future__ import annotations

import uuid

from workforce.accounts.models import MANAGERS, REVIEWERS, Role
from workforce.api.assessments_schemas import (
    AssessmentCreateSchema,
    AssessmentListArgs,
    AssessmentSchema,
    AssessmentUpdateSchema,
    GrantedSchema,
    GrantSchema,
    QualificationSchema,
    QualificationUpdateSchema,
    QuestionSchema,
    QuestionUpdateSchema,
    RevokeSchema,
    TrainerQualificationSchema,
    VersionArgs,
    VersionSchema,
)
from workforce.api.schemas import PageArgs, page_of, page_request
from workforce.api.security import Blueprint, current_user
from workforce.api.uow import db_session
from workforce.assessments import services

blp = Blueprint(
    "assessments", __name__, url_prefix="/api/v1",
    description="Qualifications and onboarding assessments: authoring and publishing",
)


# --- qualifications ------------------------------------------------------------------


@blp.route("/qualifications")
@blp.requires(*REVIEWERS)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(QualificationSchema))
def list_qualifications(args: dict):
    """The organisation's qualifications."""
    return services.list_qualifications(db_session(), current_user(), page_request(args))


@blp.route("/qualifications", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(QualificationSchema)
@blp.response(201, QualificationSchema)
@blp.refuses(409)
def create_qualification(args: dict):
    """Create a qualification (code unique within the organisation)."""
    return services.create_qualification(db_session(), current_user(), **args)


@blp.route("/qualifications/<uuid:qualification_id>")
@blp.requires(*REVIEWERS)
@blp.response(200, QualificationSchema)
@blp.refuses(404)
def get_qualification(qualification_id: uuid.UUID):
    """One qualification."""
    return services.get_qualification(db_session(), current_user(), qualification_id)


@blp.route("/qualifications/<uuid:qualification_id>", methods=["PATCH"])
@blp.requires(*MANAGERS)
@blp.arguments(QualificationUpdateSchema(partial=True))
@blp.response(200, QualificationSchema)
@blp.refuses(404)
def update_qualification(args: dict, qualification_id: uuid.UUID):
    """Change a qualification's code, name, description, locale or validity."""
    return services.update_qualification(db_session(), current_user(), qualification_id, **args)


@blp.route("/qualifications/<uuid:qualification_id>/holders")
@blp.requires(*REVIEWERS)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(TrainerQualificationSchema))
@blp.refuses(404)
def list_holders(args: dict, qualification_id: uuid.UUID):
    """Every trainer's standing in the qualification (granted, failed, revoked)."""
    return services.list_holders(db_session(), current_user(), qualification_id,
                                 page_request(args))


@blp.route("/qualifications/<uuid:qualification_id>/grants", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(GrantSchema)
@blp.response(201, GrantedSchema)
@blp.refuses(404)
def grant_qualification(args: dict, qualification_id: uuid.UUID):
    """Grant the qualification by hand, with a written reason (audited; the trainer is
    told). `warnings` names what the grant will not do: a trainer who does not list the
    qualification's locale among their languages (`locale-not-spoken`) stays ineligible
    for projects that require it."""
    return services.grant_qualification(db_session(), current_user(), qualification_id, **args)


@blp.route("/qualifications/<uuid:qualification_id>/revocations", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(RevokeSchema)
@blp.response(201, TrainerQualificationSchema)
@blp.refuses(404, 409)
def revoke_qualification(args: dict, qualification_id: uuid.UUID):
    """Revoke the qualification, with a written reason (audited; the trainer is told)."""
    return services.revoke_qualification(db_session(), current_user(), qualification_id, **args)


@blp.route("/me/qualifications")
@blp.requires(Role.TRAINER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(TrainerQualificationSchema))
def list_my_qualifications(args: dict):
    """The caller's qualifications, from every organisation."""
    return services.list_my_qualifications(db_session(), current_user(), page_request(args))


# --- assessments ---------------------------------------------------------------------


@blp.route("/assessments")
@blp.requires(*REVIEWERS)
@blp.arguments(AssessmentListArgs, location="query")
@blp.response(200, page_of(AssessmentSchema))
def list_assessments(args: dict):
    """The organisation's assessments, newest first."""
    page = page_request(args)
    return services.list_assessments(
        db_session(), current_user(), services.AssessmentFilter(**args), page
    )


@blp.route("/assessments", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(AssessmentCreateSchema)
@blp.response(201, AssessmentSchema)
def create_assessment(args: dict):
    """Create a draft assessment (version 1) that grants a qualification on a pass."""
    return services.create_assessment(db_session(), current_user(), **args)


@blp.route("/assessments/<uuid:assessment_id>")
@blp.requires(*REVIEWERS)
@blp.response(200, AssessmentSchema)
@blp.refuses(404)
def get_assessment(assessment_id: uuid.UUID):
    """One assessment with its latest version's settings."""
    return services.get_assessment(db_session(), current_user(), assessment_id)


@blp.route("/assessments/<uuid:assessment_id>", methods=["PATCH"])
@blp.requires(*MANAGERS)
@blp.arguments(AssessmentUpdateSchema(partial=True))
@blp.response(200, AssessmentSchema)
@blp.refuses(404, 409)
def update_assessment(args: dict, assessment_id: uuid.UUID):
    """Change an assessment. Settings of a published assessment go into a new draft
    version; attempts keep the version they were taken on."""
    return services.update_assessment(db_session(), current_user(), assessment_id, **args)


@blp.route("/assessments/<uuid:assessment_id>/versions")
@blp.requires(*REVIEWERS)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(VersionSchema))
@blp.refuses(404)
def list_versions(args: dict, assessment_id: uuid.UUID):
    """Every version, oldest first."""
    return services.list_versions(db_session(), current_user(), assessment_id,
                                  page_request(args))


@blp.route("/assessments/<uuid:assessment_id>/publish", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.response(200, AssessmentSchema)
@blp.refuses(404, 409)
def publish_assessment(assessment_id: uuid.UUID):
    """Publish the draft version. Refused below the organisation's wage floor, or without
    a stipend where the organisation requires one."""
    return services.publish(db_session(), current_user(), assessment_id)


@blp.route("/assessments/<uuid:assessment_id>/archive", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.response(200, AssessmentSchema)
@blp.refuses(404, 409)
def archive_assessment(assessment_id: uuid.UUID):
    """Close the assessment to new attempts; open attempts can still be finished."""
    return services.archive(db_session(), current_user(), assessment_id)


@blp.route("/assessments/<uuid:assessment_id>/questions")
@blp.requires(*MANAGERS)
@blp.arguments(VersionArgs, location="query")
@blp.response(200, page_of(QuestionSchema))
@blp.refuses(404)
def list_questions(args: dict, assessment_id: uuid.UUID):
    """The question pool of the latest version (or ``?version=N``), answer keys included."""
    page = page_request(args)
    return services.list_questions(
        db_session(), current_user(), assessment_id, page, args.get("version")
    )


@blp.route("/assessments/<uuid:assessment_id>/questions", methods=["POST"])
@blp.requires(*MANAGERS)
@blp.arguments(QuestionSchema)
@blp.response(201, QuestionSchema)
@blp.refuses(404, 409)
def add_question(args: dict, assessment_id: uuid.UUID):
    """Add a question to the pool of the editable (draft) version."""
    return services.add_question(db_session(), current_user(), assessment_id, **args)


@blp.route("/assessments/<uuid:assessment_id>/questions/<uuid:question_id>",
           methods=["PATCH"])
@blp.requires(*MANAGERS)
@blp.arguments(QuestionUpdateSchema(partial=True))
@blp.response(200, QuestionSchema)
@blp.refuses(404, 409)
def update_question(args: dict, assessment_id: uuid.UUID, question_id: uuid.UUID):
    """Change a question; a published version's question changes in a new draft version."""
    return services.update_question(
        db_session(), current_user(), assessment_id, question_id, **args
    )


@blp.route("/assessments/<uuid:assessment_id>/questions/<uuid:question_id>",
           methods=["DELETE"])
@blp.requires(*MANAGERS)
@blp.response(204)
@blp.refuses(404)
def remove_question(assessment_id: uuid.UUID, question_id: uuid.UUID):
    """Remove a question from the editable version's pool."""
    services.remove_question(db_session(), current_user(), assessment_id, question_id)
