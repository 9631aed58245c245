# gunicorn -c config/gunicorn.conf.py 'zoom_homeroom:create_app()'
# The same settings as `homeroom serve`; override with GUNICORN_CMD_ARGS or flags.
bind = "127.0.0.1:8000"
workers = 2
worker_class = "sync"
timeout = 30
graceful_timeout = 10
keepalive = 5
preload_app = True
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
