"""GET /healthz and GET /metrics: open (monitors and scrapers have no session), free of secrets and hosts."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from audit.web.context import Web
from audit.web.health import health_report
from audit.web.metrics import CONTENT_TYPE, render_metrics

log = logging.getLogger("audit.web")

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz(web: Web) -> JSONResponse:
    status, body = await health_report(web.engine, web.config, web.scheduler, up_since=web.up_since)
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/metrics")
async def metrics(web: Web) -> Response:
    try:
        text = await run_in_threadpool(render_metrics, web.metrics)
    except SQLAlchemyError as ex:
        log.warning("metrics: the database did not answer: %s", ex.__class__.__name__)
        return PlainTextResponse("database unreachable\n", status_code=503)
    return PlainTextResponse(text, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
