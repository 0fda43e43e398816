"""WSGI entry point for gunicorn: ``gunicorn api.wsgi:app``. Starts no scheduler (see ``gonghui scheduler``).

What start-up built (the application, the definitions, the imported modules: some 150,000 objects) lives as
long as the worker, so it is moved out of the collector's sight (``gc.freeze``): a full collection then walks
only what requests left behind — about a millisecond — instead of every object of the process, which held a
worker, and the request on its other thread, for 40 to 100 ms each time it ran.
"""

import gc

from api import create_app

app = create_app({"SECRET_KEY_GENERATE": False})   # no key of its own: refuse to start (`gonghui init-db`)
gc.collect()   # start-up's garbage goes now, not frozen with the rest
gc.freeze()
