import {
  type AdminBatch,
  type AdminBatchList,
  type AdminOverview,
  BATCH_FILTERS,
  type BatchFilter,
  duration,
} from "@batch-gpt/contracts";

/** How often the page reloads its content (the figures and the current page of batches). */
export const REFRESH_MS = 3000;

const TAB_LABELS: Record<BatchFilter, string> = {
  active: "Active",
  completed: "Completed",
  failed: "Failed",
  expired: "Expired",
  cancelled: "Cancelled",
  all: "All",
};

const esc = (value: unknown) =>
  String(value).replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch,
  );

const number = (n: number) => n.toLocaleString("en-US");
const plural = (n: number, one: string, many = `${one}s`) => `${number(n)} ${n === 1 ? one : many}`;

/** The whole page: the content below, the styles and the little script that refreshes and cancels. */
export function dashboardPage(content: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>batch-gpt · batches</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>batch-gpt</h1><span class="sub">batches</span><span class="updated" id="updated"></span></header>
<main id="content">${content}</main>
<script>${SCRIPT}</script>
</body>
</html>`;
}

/** The part of the page the script reloads: figures, tabs, one page of batches, paging. */
export function dashboardContent(overview: AdminOverview, list: AdminBatchList, now = Date.now()): string {
  return `${figures(overview)}
<nav class="tabs">${BATCH_FILTERS.map((f) => tab(f, list)).join("")}</nav>
${table(list, now)}
${pager(list)}
<p class="at" data-at="${esc(overview.at)}">As of ${esc(overview.at.replace("T", " ").slice(0, 19))} UTC</p>`;
}

function figures(o: AdminOverview): string {
  const rate = o.cache.hitRate === null ? "–" : `${(o.cache.hitRate * 100).toFixed(1)}%`;
  const models = o.queue.models.length
    ? `<table class="mini"><tr><th>model</th><th>waiting</th><th>held</th><th>delayed</th></tr>${o.queue.models
        .map(
          (m) =>
            `<tr data-model="${esc(m.model)}"><td>${esc(m.model)}</td><td>${number(m.waiting)}</td><td>${number(m.held)}</td><td>${number(m.delayed)}</td></tr>`,
        )
        .join("")}</table>`
    : `<p class="none">nothing waiting</p>`;
  return `<section class="figures">
<div class="card" data-figure="active"><h2>Active batches</h2><p class="big">${number(o.batches.active)}</p><p>${number(o.batches.all)} recorded in all</p></div>
<div class="card" data-figure="queue"><h2>Waiting to be collated</h2><p class="big">${number(o.queue.total)}</p>${models}</div>
<div class="card" data-figure="cache"><h2>Cache hit rate</h2><p class="big">${rate}</p><p>${plural(o.cache.hits, "hit")}, ${plural(o.cache.misses, "miss", "misses")}</p></div>
<div class="card" data-figure="held"><h2>Held sync callers</h2><p class="big">${number(o.heldCallers.total)}</p><p>on ${o.heldCallers.gateways.length} gateway${o.heldCallers.gateways.length === 1 ? "" : "s"}</p></div>
</section>`;
}

function tab(filter: BatchFilter, list: AdminBatchList): string {
  const current = filter === list.status ? ' aria-current="page" class="current"' : "";
  return `<a href="?status=${filter}" data-tab="${filter}"${current}>${TAB_LABELS[filter]} <span class="count">${number(list.counts[filter])}</span></a>`;
}

function table(list: AdminBatchList, now: number): string {
  if (list.data.length === 0)
    return `<p class="empty">No ${list.status === "all" ? "" : `${list.status} `}batches.</p>`;
  return `<table class="batches">
<thead><tr><th>Batch</th><th>Status</th><th>Model</th><th>Endpoint</th><th>Requests</th><th>Age</th><th>Time to complete</th><th></th></tr></thead>
<tbody>${list.data.map((b) => row(b, now)).join("")}</tbody>
</table>`;
}

function row(b: AdminBatch, now: number): string {
  const { total, completed, failed } = b.requests;
  // The bar: succeeded lines in green, then failed ones in red; the rest is still to do.
  const share = (n: number) => (total ? Math.min(100, (n / total) * 100) : 0);
  const [done, failedPart] = [share(completed), share(failed)];
  const created = Date.parse(b.createdAt);
  const took = b.finishedAt ? duration(Date.parse(b.finishedAt) - created) : "–";
  const cancellable = b.view === "active" && b.providerBatchId !== null && b.status !== "cancelling";
  return `<tr data-batch-id="${esc(b.id)}" data-view="${esc(b.view ?? "none")}">
<td class="id"><code>${esc(b.providerBatchId ?? b.id)}</code>${b.providerBatchId ? `<br><small>${esc(b.id)}</small>` : ""}</td>
<td><span class="status s-${esc(b.view ?? "none")}" data-status>${esc(b.status)}</span>${b.error ? `<br><small class="error">${esc(b.error)}</small>` : ""}</td>
<td data-model>${esc(b.model)}</td>
<td><code>${esc(b.endpoint)}</code></td>
<td class="progress-cell"><div class="bar" title="${(done + failedPart).toFixed(0)}% finished"><div class="done" style="width:${done.toFixed(1)}%"></div><div class="failed" style="width:${failedPart.toFixed(1)}%"></div></div>
<span data-requests>${number(completed)} / ${number(total)}${failed ? `, ${number(failed)} failed` : ""}</span></td>
<td title="${esc(b.createdAt)}" data-age>${duration(now - created)}</td>
<td data-took>${took}</td>
<td>${cancellable ? `<button type="button" data-cancel="${esc(b.providerBatchId)}">Cancel</button>` : ""}</td>
</tr>`;
}

function pager(list: AdminBatchList): string {
  if (list.total <= list.limit) return "";
  const link = (offset: number, label: string, rel: string) =>
    `<a href="?status=${list.status}&amp;offset=${offset}" rel="${rel}">${label}</a>`;
  const newer = list.offset > 0 ? link(Math.max(0, list.offset - list.limit), "← Newer", "prev") : "";
  const older =
    list.offset + list.limit < list.total ? link(list.offset + list.limit, "Older →", "next") : "";
  const last = Math.min(list.total, list.offset + list.limit);
  return `<nav class="pager">${newer}<span>${number(list.offset + 1)}–${number(last)} of ${number(list.total)}</span>${older}</nav>`;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{display:flex;align-items:baseline;gap:.75rem;padding:.75rem 1.5rem;background:#24292f;color:#fff}
header h1{font-size:1.1rem;margin:0}.sub{opacity:.7}.updated{margin-left:auto;opacity:.6;font-size:.8rem}
main{padding:1rem 1.5rem}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:1rem;margin-bottom:1rem}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.75rem 1rem}
.card h2{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:#57606a;margin:0}
.card p{margin:.2rem 0}.big{font-size:1.8rem;font-weight:600}.none{color:#57606a}
.mini{font-size:.8rem;border-collapse:collapse}.mini td,.mini th{padding:0 .6rem 0 0;text-align:left}
.tabs{display:flex;gap:.25rem;border-bottom:1px solid #d0d7de;margin-bottom:.5rem}
.tabs a{padding:.4rem .8rem;text-decoration:none;color:#57606a;border:1px solid transparent;border-bottom:none;border-radius:6px 6px 0 0}
.tabs a.current{background:#fff;border-color:#d0d7de;color:#1f2328;font-weight:600;margin-bottom:-1px}
.count{background:#eaeef2;border-radius:1em;padding:0 .5em;font-size:.8rem}
table.batches{width:100%;border-collapse:collapse;background:#fff;border:1px solid #d0d7de}
.batches th,.batches td{padding:.45rem .6rem;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
.batches th{font-size:.8rem;color:#57606a;background:#f6f8fa}
.status{display:inline-block;padding:0 .5em;border-radius:1em;font-size:.8rem;background:#eaeef2}
.s-active{background:#ddf4ff;color:#0969da}.s-completed{background:#dafbe1;color:#1a7f37}
.s-failed{background:#ffebe9;color:#cf222e}.s-expired{background:#fff8c5;color:#9a6700}.s-cancelled{background:#eaeef2;color:#57606a}
.error{color:#cf222e}
.bar{display:flex;width:160px;height:8px;background:#eaeef2;border-radius:4px;overflow:hidden;margin:.3rem 0}
.bar .done{background:#2da44e}.bar .failed{background:#cf222e}
button{font:inherit;padding:.15rem .6rem;border:1px solid #d0d7de;border-radius:6px;background:#f6f8fa;cursor:pointer}
button:hover{background:#ffebe9;border-color:#cf222e;color:#cf222e}
.pager{display:flex;gap:1rem;align-items:center;margin:.75rem 0}.at{color:#57606a;font-size:.8rem}
.empty{padding:1rem;background:#fff;border:1px solid #d0d7de}
code{font-size:.85em}
`;

const SCRIPT = `
(() => {
  const content = document.getElementById("content");
  const updated = document.getElementById("updated");
  const fragmentUrl = () => {
    const url = new URL(location.href);
    url.searchParams.set("fragment", "1");
    return url;
  };
  let busy = false;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const response = await fetch(fragmentUrl(), { headers: { accept: "text/html" } });
      if (response.ok) {
        content.innerHTML = await response.text();
        updated.textContent = "updated " + new Date().toLocaleTimeString();
      } else {
        updated.textContent = "refresh failed (" + response.status + ")";
      }
    } catch {
      updated.textContent = "refresh failed (offline?)";
    } finally {
      busy = false;
    }
  }
  content.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-cancel]");
    if (!button) return;
    const id = button.dataset.cancel;
    if (!confirm("Cancel batch " + id + "? Its unfinished requests will be sent again in a new batch.")) return;
    button.disabled = true;
    const response = await fetch("/admin/api/batches/" + encodeURIComponent(id) + "/cancel", { method: "POST" });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      alert("Could not cancel " + id + ": " + (body.error?.message ?? response.status));
    }
    await refresh();
  });
  setInterval(refresh, ${REFRESH_MS});
})();
`;
