"""The software catalogue: its model, the selection masters take from it, its checks (one per
file in ``checks/``), the impact report of a change (``diff``) and a teacher's request (``request``)."""
