"""Facilitators' review queue: triage, tag, approve, star, trim, transcribe.

Views read the request (``forms``), call one function of ``service`` and answer: JSON for the
review script (keyboard triage updates the page in place), or a redirect back to the page for
plain forms, so everything also works without the script. Bad input answers 400 with the
reason, and nothing is changed.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.datastructures import ImmutableMultiDict

from voxpop import models
from voxpop.auth import login_required
from voxpop.db import get_db
from voxpop.errors import wants_json
from voxpop.jobs import JobQueue
from voxpop.media import reel
from voxpop.reflection import transcripts, withdrawal
from voxpop.review import forms, service
from voxpop.review.service import ReflectionNotFound, ReviewError
from voxpop.web import current_language, require_event

bp = Blueprint("review", __name__)

REVIEWERS = ("organiser", "facilitator")


def _lang() -> str:
    return current_language()


def _job_queue() -> JobQueue:
    return current_app.extensions["voxpop"].queue


def clock(seconds: float | None) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a duration; an empty string when unknown."""
    if seconds is None:
        return ""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def clock_ms(seconds: float) -> str:
    """``m:ss.mmm`` for a caption time (what the transcript editor shows and reads back)."""
    total_ms = round(seconds * 1000)
    minutes, ms = divmod(total_ms, 60_000)
    hours, minutes = divmod(minutes, 60)
    text = f"{minutes}:{ms // 1000:02d}.{ms % 1000:03d}"
    return f"{hours}:{minutes:02d}:{ms // 1000:02d}.{ms % 1000:03d}" if hours else text


def seconds_text(value: float | None) -> str:
    """A number of seconds for an input box: ``12.5``, or empty when not set."""
    return "" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")


def snapped_note(start: str, end: str) -> str:
    """The note under the trim: where the reel will really cut (keyframes every 2 s)."""
    return _(
        "The reel cuts at keyframes, every %(seconds)d s: it will use %(start)s s → %(end)s s.",
        seconds=int(service.KEYFRAME_SECONDS),
        start=start,
        end=end,
    )


def whole_clip_note() -> str:
    """The note under the trim when the reel's nearest cut points are the clip's own ends."""
    return _(
        "Nothing to trim for the reel: the nearest cut points (keyframes, every %(seconds)d s)"
        " are the start and end of the clip, so the reel shows it whole.",
        seconds=int(service.KEYFRAME_SECONDS),
    )


def trim_note(reflection: service.ReviewReflection) -> str:
    """The note under the trim form for the trim saved now."""
    snapped = reflection.snapped_trim()
    if snapped is None:
        return ""
    trimmed = reflection.trim_in is not None or reflection.trim_out is not None
    if trimmed and reel.is_whole_clip(snapped, reflection.duration or 0.0):
        return whole_clip_note()
    return snapped_note(start=seconds_text(snapped[0]) or "0", end=seconds_text(snapped[1]))


def trim_message(change: service.TrimChange, clear: bool) -> str:
    """What saving a trim did, in a sentence: said plainly when the reel's cut is unchanged."""
    if not change.saved:
        if clear:
            return _("There was no trim to clear.")
        if change.cleared:
            return _("Nothing to trim: that is the whole clip.")
        return _("Nothing changed: that trim is already saved.")
    if change.cleared:
        return _("Trim cleared.")
    if change.reel_whole_clip:
        return _(
            "Trim saved for the archive and the screen in the room, but nothing to trim for the"
            " reel: the nearest cut points are the start and end of the clip, so the reel shows"
            " it whole."
        )
    if not change.reel_changed:
        return _(
            "Trim saved for the archive and the screen in the room. The reel still cuts at"
            " %(start)s s → %(end)s s, the nearest keyframes.",
            start=seconds_text(change.cut[0]) or "0",
            end=seconds_text(change.cut[1]),
        )
    return _("Trim saved.")


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "clock": clock,
        "clock_ms": clock_ms,
        "seconds_text": seconds_text,
        "kind_labels": models.kind_names(),
        "state_labels": models.review_state_names(),
        "trim_note": trim_note,
        "caption_status_labels": {
            "none": _("No captions yet"),
            "queued": _("Captions: being transcribed"),
            "draft": _("Captions: machine draft, not checked"),
            "written": _("Captions: written by a person, not checked"),
            "needs-person": _("Captions: a person must write them"),
            "no-speech": _("Captions: no speech heard"),
            "checked": _("Captions checked"),
        },
        "caption_filter_labels": {
            "waiting": _("Approved, waiting for checked captions"),
            "draft": _("Machine draft, not checked"),
            "written": _("Written by a person, not checked"),
            "needs-person": _("A person must write them"),
            "no-speech": _("No speech heard"),
            "none": _("No captions yet"),
            "checked": _("Checked"),
        },
    }


def _messages() -> dict[str, str]:
    """What the review script says, already in the reader's language."""
    return {
        "approved": _("Approved"),
        "hidden": _("Hidden"),
        "waiting": _("Back to waiting"),
        "starred": _("Starred"),
        "unstarred": _("Star removed"),
        "ready": _("Ready"),
        "failed": _("Could not be processed:"),
        "retry": _("Retry"),
        "failedAction": _("That did not work. Check the connection and try again."),
        "noSelection": _("Select at least one reflection first."),
        "noPlayer": _("There is no player for this reflection."),
        "trimFromPlayer": _("Set from the player; press Save trim to keep it."),
        # The same sentence as under the trim form, with the numbers left for the script.
        "snapped": snapped_note(start="%(start)s", end="%(end)s"),
        "wholeClip": whole_clip_note(),
        "playHere": _("Play here"),
        "pause": _("Pause"),
        "captions": _("Captions"),
        "first": _("This is the first reflection."),
        "last": _("This is the last reflection."),
    }


def _config(mode: str, **urls: str | None) -> dict[str, Any]:
    db, event = get_db(), require_event()
    return {
        "mode": mode,
        "progressUrl": url_for("studio.progress"),
        "perspectives": [
            {"id": p.id, "label": p.label, "colour": p.colour, "key": p.key}
            for p in service.perspective_choices(db, event, _lang())
            if p.key
        ],
        "keyframeSeconds": service.KEYFRAME_SECONDS,
        # One-letter keys (a, h, s, 1-8, ?) only when the user has not turned them off.
        "singleKeys": service.single_key_shortcuts(db, g.user.id),
        "messages": _messages(),
        "urls": {key: value for key, value in urls.items() if value},
    }


# -- pages ------------------------------------------------------------------------------------


def _counts_json(counts: service.QueueCounts) -> dict[str, Any]:
    """The queue's counts for the review script: the numbers, and the lines that show them
    (``review/_counts.html``, in the reader's language) to put in place of the old ones."""
    return {
        "review": counts.review,
        "captions": counts.captions,
        "as_of": counts.as_of,
        "html": render_template("review/_counts.html", counts=counts),
    }


def _render_queue(error: str | None = None, status: int = 200) -> Any:
    db, event, lang = get_db(), require_event(), _lang()
    filters = forms.filters_from(request.args)
    result = service.list_reflections(db, event, filters, lang, forms.start_from(request.args))
    args = filters.query_args()
    perspectives = service.perspective_choices(db, event, lang)

    def page_url(start: service.PageStart | None) -> str | None:
        return url_for("review.queue", **args, **start.query_args()) if start else None

    newer_url, older_url = page_url(result.newer_start()), page_url(result.older_start())
    return render_template(
        "review/queue.html",
        event=event,
        result=result,
        filters=filters,
        args=args,
        # The filters and where this page starts: forms sent from it come back to it.
        here_args={**args, **result.start.query_args()},
        perspectives=perspectives,
        # The filters' choices, as (value, text) pairs.
        perspective_filter=[(p.slug, p.label) for p in perspectives],
        prompts=[(p.id, p.text(lang)) for p in models.prompts(db, event.id)],
        counts=service.queue_counts(db, event),
        speech=transcripts.availability(transcripts.settings(current_app.config)),
        error=error,
        config=_config("queue", nextPage=older_url, prevPage=newer_url),
        prev_page_url=newer_url,
        next_page_url=older_url,
    ), status


def _render_detail(reflection_id: int, error: str | None = None, status: int = 200) -> Any:
    db, event, lang = get_db(), require_event(), _lang()
    filters = forms.filters_from(request.args)
    args = filters.query_args()
    reflection = service.get_reflection(db, event, reflection_id, lang)
    newer, older = service.neighbours(db, event, filters, reflection)
    prev_url = url_for("review.detail", reflection_id=newer, **args) if newer else None
    next_url = url_for("review.detail", reflection_id=older, **args) if older else None
    queue_url = url_for("review.queue", **args)
    cues = service.transcript_cues(reflection)
    rows = [(clock_ms(cue.start), clock_ms(cue.end), cue.text) for cue in cues]
    # After a refused edit, show what was typed, so nothing has to be typed again.
    posted = request.form if error and request.method == "POST" else ImmutableMultiDict()
    if posted and request.endpoint == "review.save_transcript":
        rows = list(
            zip(
                posted.getlist("cue_start"),
                posted.getlist("cue_end"),
                posted.getlist("cue_text"),
                strict=False,
            )
        )
    return render_template(
        "review/detail.html",
        event=event,
        reflection=reflection,
        args=args,
        cue_rows=rows,
        plain_transcript=" ".join(cue.text.replace("\n", " ") for cue in cues),
        transcript_lines=service.transcript_lines(reflection, cues),
        posted=posted,
        perspectives=service.perspective_choices(db, event, lang),
        suggestions=service.tag_suggestions(db, event),
        error=error,
        prev_url=prev_url,
        next_url=next_url,
        queue_url=queue_url,
        config=_config("detail", next=next_url, prev=prev_url, queue=queue_url),
    ), status


@bp.errorhandler(ReviewError)
def _review_error(error: ReviewError) -> Any:
    if wants_json():
        return jsonify(error=error.message), error.status
    reflection_id = (request.view_args or {}).get("reflection_id")
    if reflection_id is not None:
        try:
            return _render_detail(reflection_id, error=error.message, status=error.status)
        except ReflectionNotFound as missing:  # bad input about a reflection that isn't there
            return render_template(
                "errors/error.html", status=missing.status, message=missing.message
            ), missing.status
    return _render_queue(error=error.message, status=error.status)


@bp.get("/")
@login_required(*REVIEWERS)
def queue() -> Any:
    """The queue: newest first, filtered, with bulk approve/hide and keyboard triage."""
    return _render_queue()


@bp.get("/<int:reflection_id>")
@login_required(*REVIEWERS)
def detail(reflection_id: int) -> Any:
    """One reflection: player, consent, and every edit."""
    return _render_detail(reflection_id)


@bp.get("/<int:reflection_id>/captions.vtt")
@login_required(*REVIEWERS)
def captions(reflection_id: int) -> Any:
    """The reflection's captions as WebVTT (the player's caption track)."""
    reflection = service.get_reflection(get_db(), require_event(), reflection_id)
    if not reflection.transcript_vtt:
        abort(404)
    response = Response(reflection.transcript_vtt, mimetype="text/vtt")
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/shortcuts")
@login_required(*REVIEWERS)
def shortcuts() -> Any:
    """Turn the user's single-key shortcuts on or off (WCAG 2.1.4), then back to the page."""
    choice = request.form.get("shortcuts", "")
    if choice not in ("on", "off"):
        abort(400)
    service.set_single_key_shortcuts(get_db(), g.user.id, choice == "on")
    if choice == "on":
        message = _("Single-key shortcuts are on.")
    else:
        message = _("Single-key shortcuts are off: letters you type do nothing on these pages.")
    if wants_json():
        return jsonify(singleKeys=choice == "on", message=message)
    flash(message)
    back = request.form.get("next", "")
    if not back.startswith("/review/"):  # only back to a review page of this site
        back = url_for("review.queue")
    return redirect(back, code=303)


# -- changes ----------------------------------------------------------------------------------


# A change to the captions is confirmed beside the caption editor, at the foot of the page,
# where the page comes back to: not at the top, out of sight.
CAPTIONS_FLASH = "captions"


def _done(reflection_id: int, message: str, *, captions: bool = False) -> Any:
    """Answer a change: the updated reflection as JSON, or back to the page with a note."""
    if wants_json():
        db, event = get_db(), require_event()
        reflection = service.get_reflection(db, event, reflection_id, _lang())
        counts = _counts_json(service.queue_counts(db, event))
        return jsonify(reflection=reflection.as_json(), message=message, counts=counts)
    flash(message, CAPTIONS_FLASH if captions else "message")
    args = forms.filters_from(request.args).query_args()
    if request.args.get("back") == "queue":  # to the same page of the queue
        start = forms.start_from(request.args).query_args()
        return redirect(url_for("review.queue", **args, **start), code=303)
    page = url_for("review.detail", reflection_id=reflection_id, **args)
    return redirect(page + ("#transcript-title" if captions else ""), code=303)


def _named(reflection_id: int, change: str) -> str:
    """A quick change's note, naming the reflection it went to.

    In the queue, a and h move on to the next reflection at once: an s or a number pressed
    straight after goes to that next one, and the note must say so, not just "Starred".
    """
    return _("Reflection %(number)d: %(change)s", number=reflection_id, change=change)


@bp.post("/<int:reflection_id>/state")
@login_required(*REVIEWERS)
def set_state(reflection_id: int) -> Any:
    """Approve, hide, or put back to waiting."""
    state = request.form.get("state", "")
    service.set_review_state(get_db(), require_event(), reflection_id, state, actor=g.user)
    return _done(reflection_id, _named(reflection_id, _messages().get(state, "")))


@bp.post("/<int:reflection_id>/star")
@login_required(*REVIEWERS)
def set_star(reflection_id: int) -> Any:
    """Star for the highlights reel, or unstar."""
    starred = forms.flag_from(request.form.get("starred"))
    service.set_starred(get_db(), require_event(), reflection_id, starred, actor=g.user)
    return _done(
        reflection_id, _named(reflection_id, _("Starred") if starred else _("Star removed"))
    )


@bp.post("/<int:reflection_id>/perspective")
@login_required(*REVIEWERS)
def set_perspective(reflection_id: int) -> Any:
    """Move to another perspective of the event."""
    perspective_id = forms.id_from(request.form.get("perspective"))
    db, event = get_db(), require_event()
    service.set_perspective(db, _job_queue(), event, reflection_id, perspective_id, actor=g.user)
    label = service.get_reflection(db, event, reflection_id, _lang()).perspective.label
    return _done(reflection_id, _named(reflection_id, _("Perspective: %(label)s", label=label)))


@bp.post("/<int:reflection_id>/tags")
@login_required(*REVIEWERS)
def set_tags(reflection_id: int) -> Any:
    """Replace the topic tags."""
    names = forms.tags_from(request.form.get("tags"))
    service.set_tags(get_db(), require_event(), reflection_id, names, actor=g.user)
    return _done(reflection_id, _("Tags saved."))


@bp.post("/<int:reflection_id>/name")
@login_required(*REVIEWERS)
def set_name(reflection_id: int) -> Any:
    """Correct the first name shown (only when the delegate agreed to show it)."""
    name = request.form.get("display_name", "")
    service.set_display_name(
        get_db(), _job_queue(), require_event(), reflection_id, name, actor=g.user
    )
    return _done(reflection_id, _("First name saved."))


@bp.post("/<int:reflection_id>/trim")
@login_required(*REVIEWERS)
def set_trim(reflection_id: int) -> Any:
    """Set (or clear) the trim in and out points."""
    clear = bool(request.form.get("clear"))
    if clear:
        trim_in, trim_out = None, None
    else:
        trim_in = forms.optional_time(request.form.get("trim_in"))
        trim_out = forms.optional_time(request.form.get("trim_out"))
    change = service.set_trim(
        get_db(), require_event(), reflection_id, trim_in, trim_out, actor=g.user
    )
    return _done(reflection_id, trim_message(change, clear))


@bp.post("/<int:reflection_id>/transcript")
@login_required(*REVIEWERS)
def save_transcript(reflection_id: int) -> Any:
    """Save the captions as edited (times and words of each)."""
    cues = forms.cues_from(
        request.form.getlist("cue_start"),
        request.form.getlist("cue_end"),
        request.form.getlist("cue_text"),
    )
    service.set_transcript(get_db(), require_event(), reflection_id, cues, actor=g.user)
    return _done(reflection_id, _("Captions saved."), captions=True)


@bp.post("/<int:reflection_id>/transcript/draft")
@login_required(*REVIEWERS)
def draft_transcript(reflection_id: int) -> Any:
    """Replace the captions with a transcript split into sentences across the clip."""
    service.draft_transcript(
        get_db(), require_event(), reflection_id, request.form.get("plain", ""), actor=g.user
    )
    return _done(
        reflection_id, _("Captions made from the transcript: check their timings."), captions=True
    )


@bp.post("/<int:reflection_id>/captions/checked")
@login_required(*REVIEWERS)
def captions_checked(reflection_id: int) -> Any:
    """A person checked the captions against the clip: it may now go online (issue 16)."""
    service.mark_captions_checked(get_db(), require_event(), reflection_id, actor=g.user)
    return _done(reflection_id, _("Captions marked as checked."))


@bp.post("/<int:reflection_id>/retry")
@login_required(*REVIEWERS)
def retry(reflection_id: int) -> Any:
    """Process a failed reflection again."""
    service.retry_processing(get_db(), _job_queue(), require_event(), reflection_id, actor=g.user)
    return _done(reflection_id, _("Queued to be processed again."))


@bp.post("/<int:reflection_id>/withdraw")
@login_required("organiser")
def withdraw(reflection_id: int) -> Any:
    """Withdraw on the person's behalf, confirmed by the receipt code they tell the organiser
    (or the reflection's number when the receipt is lost); audited under the organiser's name."""
    db, event = get_db(), require_event()
    service.get_reflection(db, event, reflection_id)  # 404 unless it is there to withdraw
    try:
        how = withdrawal.confirm_on_behalf(db, reflection_id, request.form.get("confirm_code", ""))
    except withdrawal.WrongConfirmation as wrong:
        raise ReviewError(wrong.message) from wrong
    state = current_app.extensions["voxpop"]
    withdrawal.withdraw(
        db, state.queue, state.store, reflection_id, organiser=g.user, confirmed_with=how
    )
    flash(_("Reflection #%(number)d withdrawn: it has gone from the archive and reels; its "
            "files are being deleted.", number=reflection_id))  # fmt: skip
    args = forms.filters_from(request.args).query_args()
    return redirect(url_for("review.queue", **args), code=303)


@bp.post("/bulk")
@login_required(*REVIEWERS)
def bulk() -> Any:
    """Approve or hide every reflection ticked in the list."""
    state = request.form.get("state", "")
    ids = forms.ids_from(request.form.getlist("ids"))
    db, event = get_db(), require_event()
    changed = service.bulk_set_review_state(db, event, ids, state, actor=g.user)
    if state == "approved":
        message = ngettext("%(num)d reflection approved.", "%(num)d reflections approved.", changed)
    elif state == "hidden":
        message = ngettext("%(num)d reflection hidden.", "%(num)d reflections hidden.", changed)
    else:
        message = ngettext(
            "%(num)d reflection back to waiting.", "%(num)d reflections back to waiting.", changed
        )
    if wants_json():
        lang = _lang()
        updated = [service.get_reflection(db, event, rid, lang).as_json() for rid in ids]
        counts = _counts_json(service.queue_counts(db, event))
        return jsonify(reflections=updated, changed=changed, message=message, counts=counts)
    flash(message)
    # Back to the same page: it starts at a reflection, so the reflections just approved or
    # hidden leaving a "waiting" list shift nothing, and the next ones still waiting show.
    args = forms.filters_from(request.args).query_args()
    start = forms.start_from(request.args).query_args()
    return redirect(url_for("review.queue", **args, **start), code=303)
