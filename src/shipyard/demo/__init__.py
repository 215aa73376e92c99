"""``shipyard demo``: the release train on a sample app (``scenario``, ``repo``)."""

# The ports the demo takes when they are free: its dashboard, stage, prod and dev.
# ``shipyard init`` never writes these, so a demo and a real app do not collide.
DEMO_PORTS = (8100, 8101, 8102, 8103)
