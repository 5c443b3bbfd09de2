"""Extensions, created unbound and initialised in create_app."""

from flask_compress import Compress
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
compress = Compress()
