// The world page's panels beside the channel: the config repository (branches, pull
// requests with their files, body, reviews, merge state and Actions steps, tags and
// releases; "review as <person>" controls) and one panel per Frappe site (blueprints,
// last migrate, backups, restores). Polls /_world/state and redraws what changed;
// a review posts to /_world/review. Everything shown is escaped here: PR bodies,
// file names, review comments, release notes and logs are other people's text.
// The rendering functions are pure and exported for tests under node.
"use strict";

function esc(text) {
  return String(text === undefined || text === null ? "" : text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

// GitHub-flavoured Markdown, the part PR bodies and release notes use: headings,
// fenced code, tables, lists, quotes, paragraphs; `code`, **bold**, _em_ and
// http(s) links. The text is escaped first, so nothing in it becomes markup.
function renderMarkdown(text) {
  const lines = esc(text).split("\n");
  const out = [];
  const inline = (s) => {
    const held = [];
    const hold = (html) => { held.push(html); return "\u0000" + (held.length - 1) + "\u0000"; };
    return s
      .replace(/`([^`]+)`/g, (_, c) => hold("<code>" + c + "</code>"))
      .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, (_, label, url) =>
        hold('<a href="' + url + '" target="_blank" rel="noopener">' + label + "</a>"))
      .replace(/\*\*([^*]+)\*\*/g, "<b>$1</b>")
      .replace(/(^|[\s(])_([^_]+)_/g, "$1<i>$2</i>")
      .replace(/\u0000(\d+)\u0000/g, (_, i) => held[Number(i)]);
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^```/.test(line)) {
      const body = [];
      i += 1;
      while (i < lines.length && !/^```/.test(lines[i])) { body.push(lines[i]); i += 1; }
      out.push("<pre>" + body.join("\n") + "</pre>");
      i += 1;
    } else if (/^#{1,6} /.test(line)) {
      const level = Math.min(line.indexOf(" ") + 2, 6);
      out.push("<h" + level + ">" + inline(line.replace(/^#+ /, "")) + "</h" + level + ">");
      i += 1;
    } else if (/^\|/.test(line)) {
      const rows = [];
      while (i < lines.length && /^\|/.test(lines[i])) { rows.push(lines[i]); i += 1; }
      const cells = (row) => row.replace(/^\||\|$/g, "").split(/(?<!\\)\|/).map((c) => inline(c.trim().replace(/\\\|/g, "|")));
      const body = rows.filter((r) => !/^\|[\s|:-]+\|$/.test(r));
      out.push("<table>" + body.map((r, n) => "<tr>" + cells(r).map((c) =>
        (n === 0 ? "<th>" + c + "</th>" : "<td>" + c + "</td>")).join("") + "</tr>").join("") + "</table>");
    } else if (/^\s*[-*] /.test(line)) {
      const items = [];
      while (i < lines.length && /^\s*[-*] /.test(lines[i])) { items.push(inline(lines[i].replace(/^\s*[-*] /, ""))); i += 1; }
      out.push("<ul>" + items.map((t) => "<li>" + t + "</li>").join("") + "</ul>");
    } else if (/^&gt; ?/.test(line)) {
      const quoted = [];
      while (i < lines.length && /^&gt; ?/.test(lines[i])) { quoted.push(inline(lines[i].replace(/^&gt; ?/, ""))); i += 1; }
      out.push("<blockquote>" + quoted.join("<br>") + "</blockquote>");
    } else if (line.trim() === "") {
      i += 1;
    } else {
      const para = [];
      while (i < lines.length && lines[i].trim() !== "" && !/^(```|#{1,6} |\||\s*[-*] |&gt;)/.test(lines[i])) {
        para.push(inline(lines[i])); i += 1;
      }
      out.push("<p>" + para.join("<br>") + "</p>");
    }
  }
  return out.join("");
}

// ✓ ✗ ⏳ or · for a run or a step, from GitHub's status and conclusion.
function mark(status, conclusion) {
  if (status !== "completed") return status === "queued" ? "\u00b7" : "\u23f3";
  if (conclusion === "success") return "\u2713";
  if (conclusion === "skipped") return "\u2013";
  return "\u2717";
}

function runLine(run) {
  const outcome = run.status === "completed" ? run.conclusion : run.status.replace("_", " ");
  return '<div class="run" data-run="' + esc(run.id) + '"><span class="mark">' + mark(run.status, run.conclusion) + "</span> " +
    "<b>" + esc(run.name) + " #" + esc(run.number) + "</b> on <code>" + esc(run.branch) + "@" + esc(run.sha) +
    "</code> (" + esc(run.event) + "): " + esc(outcome) +
    '<div class="steps">' + run.steps.map((s) =>
      '<span class="step step-' + esc(s.conclusion || s.status) + '" title="' + esc(s.log) + '">' +
      mark(s.status, s.conclusion) + " " + esc(s.name) + "</span>").join(" ") + "</div></div>";
}

function pullHtml(pull) {
  const state = pull.merged ? "merged" : pull.state;
  const labels = pull.labels.map((l) => '<span class="label">' + esc(l) + "</span>").join(" ");
  const files = pull.files.map((f) => '<li><span class="file-status status-' + esc(f.status) + '">' + esc(f.status) +
    "</span> <code>" + esc(f.path) + "</code></li>").join("");
  const reviews = pull.reviews.length
    ? pull.reviews.map((r) => '<div class="review review-' + esc(r.state.toLowerCase()) + '"><b>' + esc(r.user) + "</b> " +
      esc(r.state.toLowerCase().replace("_", " ")) + " at <code>" + esc(r.commit) + "</code>" +
      (r.body ? '<div class="review-body">' + renderMarkdown(r.body) + "</div>" : "") +
      r.comments.map((c) => '<div class="review-body"><code>' + esc(c.path) + ":" + esc(c.line) + "</code> " + esc(c.body) + "</div>").join("") +
      "</div>").join("")
    : '<div class="muted">No reviews yet' + (pull.requested_reviewers.length
      ? "; review requested from " + pull.requested_reviewers.map(esc).join(", ") : "") + ".</div>";
  const key = "pr-" + esc(pull.number);
  return '<div class="pull" data-number="' + esc(pull.number) + '" data-state="' + esc(state) + '">' +
    '<div class="pull-title"><span class="badge badge-' + esc(state) + '">' + esc(state) + "</span> <b>#" + esc(pull.number) +
    "</b> " + esc(pull.title) + "</div>" +
    '<div class="muted"><code>' + esc(pull.head) + "</code> \u2192 <code>" + esc(pull.base) + "</code> " + labels + "</div>" +
    '<div class="merge-state merge-' + esc(pull.merge_state.kind) + '">' + esc(pull.merge_state.text) +
    (pull.merge_commit ? " as <code>" + esc(pull.merge_commit) + "</code>" : "") + "</div>" +
    '<details data-key="' + key + '-files"><summary>Files changed (' + pull.files.length + ')</summary><ul class="files">' + files + "</ul></details>" +
    '<details data-key="' + key + '-body"><summary>Description</summary><div class="markdown">' + renderMarkdown(pull.body) + "</div></details>" +
    '<div class="reviews"><h4>Reviews</h4>' + reviews + "</div>" +
    (pull.actions.length ? '<div class="actions-runs"><h4>Actions</h4>' + pull.actions.map(runLine).join("") + "</div>" : "") +
    "</div>";
}

// The repository panel (without the review controls, which keep what was typed).
function renderRepo(repo) {
  const branches = repo.branches.map((b) => '<li><code>' + esc(b.name) + "</code> @ <code>" + esc(b.sha) + "</code>" +
    (b.production ? ' <span class="label">production, protected</span>' : "") + "</li>").join("");
  const pulls = repo.pulls.length ? repo.pulls.map(pullHtml).join("") : '<div class="muted">No pull requests yet.</div>';
  const runs = repo.runs.length ? repo.runs.map(runLine).join("") : '<div class="muted">No workflow runs yet.</div>';
  const tags = repo.tags.length
    ? "<ul>" + repo.tags.map((t) => '<li class="tag"><code>' + esc(t.name) + "</code> \u2192 <code>" + esc(t.commit) + "</code></li>").join("") + "</ul>"
    : '<div class="muted">No tags yet.</div>';
  const releases = repo.releases.length
    ? repo.releases.map((r) => '<div class="release" data-tag="' + esc(r.tag) + '"><b>' + esc(r.name || r.tag) + "</b> " +
      (r.latest ? '<span class="label">Latest</span>' : "") + (r.draft ? '<span class="label">Draft</span>' : "") +
      '<div class="markdown">' + renderMarkdown(r.body || "") + "</div></div>").join("")
    : '<div class="muted">No releases yet.</div>';
  return '<div class="muted"><code>' + esc(repo.name) + "</code></div>" +
    '<h3>Branches</h3><ul class="branches">' + branches + "</ul>" +
    '<h3>Pull requests</h3><div class="pulls">' + pulls + "</div>" +
    '<details data-key="runs"><summary>All Actions runs (' + repo.runs.length + ')</summary>' + runs + "</details>" +
    '<h3>Tags</h3><div class="tags">' + tags + "</div>" +
    '<h3>Releases</h3><div class="releases">' + releases + "</div>";
}

// "Review as <person>" for the open pull requests: who, which PR, a comment, and
// Approve / Request changes. Empty when nothing is open.
function renderReviewForm(repo) {
  const open = repo.pulls.filter((p) => p.state === "open");
  if (!open.length) return "";
  return '<form id="review-form" class="review-form"><div><label>Review as <select name="user">' +
    repo.reviewers.map((r) => '<option value="' + esc(r) + '">' + esc(r) + "</option>").join("") +
    '</select></label> <label>on <select name="pr">' +
    open.map((p) => '<option value="' + esc(p.number) + '">#' + esc(p.number) + "</option>").join("") +
    '</select></label></div><textarea name="body" placeholder="Leave a comment" aria-label="review comment"></textarea>' +
    '<div><button type="button" data-verdict="approve" class="primary">Approve</button> ' +
    '<button type="button" data-verdict="request_changes">Request changes</button></div></form>';
}

function renderSite(site) {
  const blueprints = site.blueprints.length
    ? '<dl class="blueprints">' + site.blueprints.map((b) => "<dt>" + esc(b.doctype) + " (" + b.names.length + ")</dt><dd>" +
      b.names.map((n) => '<span class="blueprint">' + esc(n) + "</span>").join(", ") + "</dd>").join("") + "</dl>"
    : '<div class="muted">No blueprints.</div>';
  const errors = site.errors.map((e) => '<div class="error">' + esc(e) + "</div>").join("");
  const m = site.last_migrate;
  const migrate = m
    ? '<div class="migrate"><span class="mark">' + mark(m.status, m.conclusion) + "</span> Deploy #" + esc(m.run) + " of <code>" + esc(m.sha) + "</code>" +
      (m.at ? " at " + esc(m.at) : "") + (m.log ? "<pre>" + esc(m.log) + "</pre>" : "") + "</div>"
    : '<div class="muted">' + (site.production ? "None since the demo started." : "Not deployed by migrate: <code>push</code> writes it over REST.") + "</div>";
  const backups = site.backups.length
    ? "<ul>" + site.backups.map((b) => "<li><code>" + esc(b) + "</code></li>").join("") + "</ul>"
    : '<div class="muted">None.</div>';
  const restores = site.restores.length
    ? '<div class="restores">Restored: ' + site.restores.map((r) => "<code>" + esc(r) + "</code>").join(", ") + "</div>"
    : "";
  return '<section class="site" data-site="' + esc(site.name) + '"><h2>Site <code>' + esc(site.name) + "</code>" +
    (site.production ? ' <span class="label">production</span>' : ' <span class="label">staging</span>') + "</h2>" +
    errors + "<h3>Blueprints</h3>" + blueprints + "<h3>Last migrate</h3>" + migrate +
    "<h3>Backups</h3>" + backups + restores + "</section>";
}

function renderSites(sites) {
  return sites.map(renderSite).join("");
}

if (typeof module !== "undefined") {
  module.exports = { esc, renderMarkdown, renderRepo, renderReviewForm, renderSites };
} else {
  const shown = { repo: "", sites: "", form: "" };
  // Which <details> a person opened or closed survives redraws.
  const toggled = {};
  document.getElementById("world").addEventListener("toggle", (e) => {
    if (e.target.dataset && e.target.dataset.key) toggled[e.target.dataset.key] = e.target.open;
  }, true);
  const setHtml = (id, html) => {
    if (shown[id] === html) return;
    const box = document.getElementById(id);
    box.innerHTML = html;
    box.querySelectorAll("details[data-key]").forEach((d) => {
      if (d.dataset.key in toggled) d.open = toggled[d.dataset.key];
    });
    shown[id] = html;
  };
  const say = (text) => {
    const note = document.querySelector("#review .note");
    if (note) note.textContent = text;
  };
  const refresh = () => fetch("/_world/state")
    .then((r) => r.json())
    .then((state) => {
      setHtml("repo", renderRepo(state.repo));
      setHtml("sites", renderSites(state.sites));
      // The form is redrawn only when the open PRs change, keeping what was typed.
      const form = renderReviewForm(state.repo);
      if (form !== shown.form) {
        const box = document.getElementById("review");
        const old = box.querySelector("form");
        const kept = old ? { user: old.user.value, body: old.body.value } : null;
        box.innerHTML = form + (form ? '<div class="note"></div>' : "");
        const fresh = box.querySelector("form");
        if (fresh && kept) { fresh.user.value = kept.user; fresh.body.value = kept.body; }
        shown.form = form;
      }
    })
    .catch((e) => say(String(e.message || e)));
  document.getElementById("review").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-verdict]");
    if (!button) return;
    const form = button.form;
    const review = { pr: Number(form.pr.value), user: form.user.value, verdict: button.dataset.verdict, body: form.body.value };
    fetch("/_world/review", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(review) })
      .then((r) => r.json())
      .then((answer) => {
        if (!answer.ok) throw new Error(answer.error);
        form.body.value = "";
        say(review.user + (review.verdict === "approve" ? " approved #" : " requested changes on #") + review.pr + ".");
        refresh();
      })
      .catch((err) => say(String(err.message || err)));
  });
  refresh();
  setInterval(refresh, 1000);
}
