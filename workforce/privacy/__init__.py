"""Trainers' own data: the archive of everything held about them, and erasure."""
