/**
 * The console's own script and style, served from /console/assets (nothing comes from another
 * origin). The script refreshes every element with `data-live` from its URL every 5 s.
 */
export const CONSOLE_SCRIPT = `
for (const element of document.querySelectorAll("[data-live]")) {
  const refresh = async () => {
    try {
      const response = await fetch(element.dataset.live, { credentials: "same-origin" });
      if (response.redirected || !response.ok) return;
      element.innerHTML = await response.text();
      element.dataset.refreshedAt = new Date().toISOString();
    } catch {}
  };
  setInterval(refresh, 5000);
}
`;

export const CONSOLE_STYLE = `
:root { color-scheme: light dark; --line: #8884; --muted: #888; --bad: #c0392b; --good: #2e8b57; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); }
header strong { margin-right: 1rem; }
header nav { display: flex; gap: 1rem; flex: 1; }
header nav a[aria-current="page"] { font-weight: 600; text-decoration: none; }
main { padding: 1rem 1.2rem; max-width: 80rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
form.inline { display: inline; }
form.filters { display: flex; gap: 1rem; align-items: end; margin: .5rem 0 1rem; flex-wrap: wrap; }
label { display: flex; flex-direction: column; gap: .2rem; }
.error { color: var(--bad); }
.ok { color: var(--good); }
.muted { color: var(--muted); }
ol.timeline { list-style: none; padding-left: 1rem; border-left: 2px solid var(--line); }
ol.timeline li { margin: .4rem 0; }
pre { white-space: pre-wrap; word-break: break-all; background: #8881; padding: .5rem; }
figure { margin: 0 0 1.5rem; }
svg.chart { width: 100%; max-width: 48rem; height: 9rem; border: 1px solid var(--line); }
.legend span { margin-right: 1rem; }
.signin { max-width: 22rem; margin: 4rem auto; display: flex; flex-direction: column; gap: .8rem; }
`;
