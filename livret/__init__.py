"""livret: content → Jinja2 → HTML → WeasyPrint → PDF, for the *Retour d'expérience* booklets."""

__version__ = "0.1.0"
