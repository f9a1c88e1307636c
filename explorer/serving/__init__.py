"""Serving: what one process shared by every session needs: caches, admission, turns and memory trimming."""
