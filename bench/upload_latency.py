"""Time from the upload's response to the Dokument shown as processed in the browser.

    uv run python -m bench.upload_latency --runs 20

Starts an embedded Redis, a SQLite database, `ailawyer serve` and `ailawyer worker` (default
job settings) in a temporary directory, logs a user in with Chromium, and uploads a 10-page
PDF on the Akte page `--runs` times, one after another. Both moments are taken in the page
(performance.now()): when the upload request answers 201, and when the row of that
Dokument first shows the status ABGESCHLOSSEN (pushed over Socket.IO, row fetched by HTMX).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, log_in
from tests.support.pdfs import numbered_pdf
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http

from ailawyer.db.migrate import upgrade
from ailawyer.db.models import Akte
from ailawyer.db.session import Database
from ailawyer.domain.roles import Role
from ailawyer.domain.users import create_user
from ailawyer.embedded_redis import RedisServer

EMAIL = "bench@kanzlei.example"
PASSWORD = "bench-passwort-" + secrets.token_hex(4)

# Records, per Dokument id, when its upload answered and when its row showed "processed".
MEASURE = """
window.__times = {};
const open = XMLHttpRequest.prototype.open;
XMLHttpRequest.prototype.open = function (method, url, ...rest) {
  this.addEventListener("load", () => {
    if (method === "POST" && this.status === 201) {
      for (const d of JSON.parse(this.responseText).dokumente) {
        window.__times[d.id] = { uploaded: performance.now() };
      }
    }
  });
  return open.call(this, method, url, ...rest);
};
new MutationObserver(() => {
  for (const row of document.querySelectorAll('tr[data-status="ABGESCHLOSSEN"]')) {
    const entry = window.__times[row.dataset.dokumentId];
    if (entry && entry.processed === undefined) entry.processed = performance.now();
  }
}).observe(document, { subtree: true, childList: true, attributes: true });
"""


async def prepare(database_url: str) -> int:
    """A user and an Akte; returns the Akte's id."""
    await asyncio.to_thread(upgrade, database_url)
    database = Database(database_url)
    try:
        async with database.session() as session:
            user = await create_user(
                session,
                email=EMAIL,
                name="Bench Anwalt",
                role=Role.ANWALT,
                password=PASSWORD,
                kanzlei_name="Bench-Kanzlei",
            )
            akte = Akte(kanzlei_id=user.kanzlei_id, aktenzeichen="1/26", kurzrubrum="Bench")
            akte.anwalt_id = user.id
            session.add(akte)
            await session.commit()
            return akte.id
    finally:
        await database.dispose()


async def measure(base_url: str, akte_id: int, runs: int) -> list[float]:
    pdf = numbered_pdf(10)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(base_url=base_url, locale="de-DE")
        await context.add_init_script(MEASURE)
        page = await context.new_page()
        await log_in(page, EMAIL, PASSWORD)
        await page.goto(f"/akten/{akte_id}")
        await page.wait_for_selector("#notification-root[data-connection=connected]")
        results: list[float] = []
        for run in range(runs):
            await page.get_by_label("PDF-Dateien hinzufügen").set_input_files(
                [{"name": f"zehn-seiten-{run}.pdf", "mimeType": "application/pdf", "buffer": pdf}]
            )
            await page.get_by_role("button", name="Hochladen").click()
            done = await page.wait_for_function(
                "() => { const t = Object.values(window.__times).at(-1);"
                " return t && t.processed !== undefined && t; }",
                timeout=30_000,
            )
            times = await done.json_value()
            results.append(times["processed"] - times["uploaded"])
            await page.evaluate("window.__times = {}")
        await browser.close()
    return results


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        data = Path(root)
        redis = RedisServer(data_dir=data / "redis")
        redis.start()
        database_url = f"sqlite+aiosqlite:///{data / 'bench.sqlite3'}"
        processes: list[AilawyerProcess] = []
        try:
            akte_id = await prepare(database_url)
            port = free_port()
            env = {
                **{k: v for k, v in os.environ.items() if not k.isupper() or k in {"PATH", "HOME"}},
                "ENVIRONMENT": "test",
                "SECRET_KEY": secrets.token_hex(32),
                "DATABASE_URL": database_url,
                "REDIS_URL": redis.url,
                "DATA_DIR": str(data),
                "LOG_LEVEL": "INFO",
                "HOST": "127.0.0.1",
            }
            processes.append(
                AilawyerProcess(["serve", "--port", str(port)], env, data / "serve.out")
            )
            processes.append(AilawyerProcess(["worker"], env, data / "worker.out"))
            base_url = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base_url}/api/health", process=processes[0])
            results = await measure(base_url, akte_id, runs)
        finally:
            for process in processes:
                process.stop()
            redis.stop()
    ordered = sorted(results)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"runs {len(results)}: upload response -> shown as processed, in ms")
    print(
        f"median {statistics.median(results):.0f}  p95 {p95:.0f}  "
        f"min {ordered[0]:.0f}  max {ordered[-1]:.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(main(parser.parse_args().runs))
