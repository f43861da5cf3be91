"""``/plan/crew``, ``/plan/parts`` and the parts movements: the planning endpoints.

Each router lives beside its code; they are collected here so ``create_app`` mounts one list.
"""

from __future__ import annotations

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
