"""The teacher's side of the course, kept in the repository and out of the installed package.

    course/source/     the assignments' sources with the model solutions (percent cell format)
    course/README.md   how to build, grade, hide cases, and what the grader defends against

``python -m course build OUT_DIR`` writes the student and the teacher notebooks (the same as
``minieleatt assignment build OUT_DIR`` run from this checkout); ``python -m course grade SUBMISSION``
grades. The student's install (the wheel) holds the stubs' checker and the grader, never this folder.
"""
