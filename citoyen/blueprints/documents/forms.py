"""The upload form of a justificatif."""

from flask_wtf.file import FileField
from flask_wtf.file import MultipleFileField

from citoyen import filecheck
from citoyen.blueprints.fields import Form


class UploadForm(Form):
    files = MultipleFileField(
        "Fichiers du justificatif",
        description=filecheck.FORMATS + ". Plusieurs fichiers possibles (recto et verso).",
        render_kw={"accept": filecheck.ACCEPT_ATTRIBUTE, "multiple": True},
    )
    # On a phone, this one opens the camera to photograph the paper.
    photo = FileField(
        "Ou prendre une photo du document",
        description=filecheck.FORMATS + ". Sur un téléphone, l'appareil photo s'ouvre. "
        "La position GPS de la photo est retirée.",
        render_kw={"accept": "image/jpeg,image/png", "capture": "environment"},
    )
