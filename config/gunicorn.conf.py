# gunicorn -c config/gunicorn.conf.py 'zoom_homeroom:create_app()'
# The settings of `homeroom serve` (zoom_homeroom/web/server.py: threaded workers with a request-read
# deadline, the escaping access log); override with GUNICORN_CMD_ARGS or flags.
from zoom_homeroom.web.server import gunicorn_options

globals().update(gunicorn_options("127.0.0.1", 8000, workers=2))
preload_app = True
