"""Qualifications, onboarding assessments, attempts, rubric grading."""
