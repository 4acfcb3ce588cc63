"""Show a control only to roles that may use it (an operator reads the knowledge base but gets no upload zone
or edit buttons). Only a courtesy: every handler behind such a control refuses the role anyway
(chatai/web/state/access.py)."""

from __future__ import annotations

import reflex as rx

from chatai.web.state.access import BusinessState


def only_for(capability: str, component: rx.Component) -> rx.Component:
    return rx.cond(BusinessState.allowed.contains(capability), component, rx.fragment())
