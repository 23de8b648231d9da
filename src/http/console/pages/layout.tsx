import type { Child } from "hono/jsx";

export const SECTIONS = [
  { name: "Overview", href: "/console/overview" },
  { name: "Orders", href: "/console/orders" },
  { name: "Dead letters", href: "/console/dead-letters" },
  { name: "Topology", href: "/console/topology" },
] as const;
export type Section = (typeof SECTIONS)[number]["name"];

/** Every console page: the navigation once signed in, the page's heading, its content. */
export function Layout(props: { title: string; section?: Section; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · order-pipeline console</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
        <script src="/console/assets/console.js" defer />
      </head>
      <body>
        {props.section !== undefined && (
          <header>
            <strong>order-pipeline</strong>
            <nav aria-label="Console">
              {SECTIONS.map((section) => (
                <a href={section.href} aria-current={section.name === props.section ? "page" : undefined}>
                  {section.name}
                </a>
              ))}
            </nav>
            <form method="post" action="/console/sign-out" class="inline">
              <button type="submit">Sign out</button>
            </form>
          </header>
        )}
        <main>
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  );
}

/** How long ago `iso` was, in words short enough for a table cell. */
export function age(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}
