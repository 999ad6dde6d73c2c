"""Words out of the video: the speech model and the pure transcription step (issue 16).

Like ``voxpop.media``, nothing here imports Flask or touches the database: paths and numbers
in, folders, files and dataclasses out, domain exceptions on failure.
"""
