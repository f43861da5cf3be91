"""Start, check and stop forewarn's local stack of real services, natively, on loopback.

Every service writes its data, log and pid file under the state folder (``FOREWARN_STATE_DIR``,
default ``<checkout>/.state``). Start is idempotent (a healthy service is left alone), stop is
clean (SIGTERM to the service's process group, SIGKILL after a timeout, then a sweep for any
process still naming the state folder).
"""
