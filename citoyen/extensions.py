"""Extensions, created unbound and initialised in create_app."""

from flask_compress import Compress
from flask_login import LoginManager

from citoyen.csrf import CSRFProtection

login_manager = LoginManager()
csrf = CSRFProtection()
compress = Compress()
