"""Forms for the organiser settings pages.

The forms only parse what the browser sent (and carry the CSRF token); the rules (ranges,
duplicates, the last organiser…) live in the settings services (``studio/event_settings.py``,
``perspectives.py``, ``consent.py``, ``kiosks.py``, ``users.py``) so they hold for every caller,
and their errors are shown next to the field they name.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (  # type: ignore[attr-defined]  # SelectChoice: WTForms 3.3, stubs 3.2
    BooleanField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from voxpop.studio.consent import CONSENT_FIELDS
from voxpop.studio.languages import language_name
from voxpop.web import current_language


class ActionForm(FlaskForm):
    """A button that changes one thing: only the CSRF token."""


class MoveForm(FlaskForm):
    """Up or down, from the button pressed (the service refuses anything else)."""

    direction = StringField()


class ActiveForm(FlaskForm):
    """Show (1) or hide (0) a prompt."""

    active = StringField()


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PercentField(FloatField):
    """A number shown without a trailing ".0" (5, not 5.0)."""

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return f"{self.data:g}" if self.data is not None else ""


_NUMBER = _l("Enter a whole number.")


class EventForm(FlaskForm):
    """The event's name, place, languages, limits and branding."""

    name = StringField(_l("Event name (English)"))
    name_cy = StringField(_l("Event name (Welsh)"))
    date = StringField(_l("Date"))
    venue = StringField(_l("Venue"))
    thanks_en = TextAreaField(_l("Thank-you text (English)"))
    thanks_cy = TextAreaField(_l("Thank-you text (Welsh)"))
    languages = CheckboxesField(_l("Languages offered on the kiosk"))
    max_clip_seconds = IntegerField(
        _l("Longest clip (seconds)"), validators=[InputRequired(message=_NUMBER)]
    )
    idle_timeout_seconds = IntegerField(
        _l("Idle timeout (seconds)"), validators=[InputRequired(message=_NUMBER)]
    )
    text_max_chars = IntegerField(
        _l("Longest written reflection (characters)"), validators=[InputRequired(message=_NUMBER)]
    )
    accent_colour = StringField(_l("Accent colour"))
    missing_voices_percent = PercentField(
        _l("Missing voices target (per cent of reflections)"),
        validators=[InputRequired(message=_l("Enter a number between 0 and 50."))],
    )
    missing_voices_banner = BooleanField(
        _l("Show “We'd love to hear from …” on the kiosk when a perspective is missing")
    )

    def __init__(self, *args: Any, languages: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.languages.choices = [
            # Named in the organiser's language ("Welsh", "Cymraeg"), not the language's own.
            SelectChoice(lang, language_name(lang, current_language()))
            for lang in languages
        ]


class LogoForm(FlaskForm):
    """A logo image (PNG, JPEG or WebP)."""

    logo = FileField(_l("Logo"), validators=[FileRequired(message=_l("Choose an image file."))])


class NewEventForm(FlaskForm):
    """A new event: it starts with the default perspectives, prompts and consent text."""

    name = StringField(_l("Event name (English)"))
    name_cy = StringField(_l("Event name (Welsh)"))
    date = StringField(_l("Date"))
    venue = StringField(_l("Venue"))


class PerspectiveForm(FlaskForm):
    """A perspective's labels and colour."""

    label_en = StringField(_l("Label (English)"))
    label_cy = StringField(_l("Label (Welsh)"))
    colour = StringField(_l("Colour"))


class PromptForm(FlaskForm):
    """A prompt's wording."""

    text_en = TextAreaField(_l("Prompt (English)"))
    text_cy = TextAreaField(_l("Prompt (Welsh)"))


class ConsentForm(FlaskForm):
    """Every part of the consent wording, in English and Welsh (fields like ``intro_en``)."""

    def texts(self) -> dict[str, dict[str, str | None]]:
        """The wording as ``{lang: {part: text}}``."""
        return {
            lang: {key: self[f"{key}_{lang}"].data for key in CONSENT_FIELDS}
            for lang in ("en", "cy")
        }


for _key in CONSENT_FIELDS:
    for _lang in ("en", "cy"):
        setattr(ConsentForm, f"{_key}_{_lang}", TextAreaField(f"{_key}_{_lang}"))
del _key, _lang


class KioskForm(FlaskForm):
    """A kiosk's name (and, for a new one, whether it is a roving interviewer's phone)."""

    name = StringField(_l("Name"))
    roving = BooleanField(_l("Roving: an interviewer's phone for walk-up vox pops"))


# Checked by the service, whose message is clearer than "Not a valid choice".
_ROLE_CHOICES = [
    SelectChoice("facilitator", _l("facilitator")),
    SelectChoice("organiser", _l("organiser")),
]


class UserForm(FlaskForm):
    """A new user."""

    name = StringField(_l("Name"))
    role = SelectField(_l("Role"), choices=_ROLE_CHOICES, validate_choice=False)
    password = PasswordField(_l("Password"))


class RoleForm(FlaskForm):
    """A user's role."""

    role = SelectField(_l("Role"), choices=_ROLE_CHOICES, validate_choice=False)


class PasswordForm(FlaskForm):
    """A new password for a user."""

    password = PasswordField(_l("New password"))


class AuditFilterForm(FlaskForm):
    """Which entries of the audit log to show (a GET form: no CSRF needed)."""

    class Meta:
        csrf = False

    kind = SelectField(_l("Kind of change"), validators=[Optional()], validate_choice=False)
    target = IntegerField(_l("Number"), validators=[Optional()])
    who = SelectField(_l("Who"), validators=[Optional()], validate_choice=False)
