"""Pipeline commands of `csvdrop` (setup, upload, list, show, notices, ...)."""

from __future__ import annotations
