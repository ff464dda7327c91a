"""Dependencies that route handlers ask for by name; `create_app` provides them."""

from __future__ import annotations

from litestar.di import NamedDependency

from ailawyer.services import Services

ServicesDep = NamedDependency[Services]
