"""chatkit.redis: rooms shared by server processes through a real Redis.

(A package inside ``tests``: ``import redis`` still finds redis-py.)
"""
