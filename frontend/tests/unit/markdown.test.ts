import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../../src/notebook/markdown";

function html(src: string): string {
  const div = document.createElement("div");
  div.append(renderMarkdown(src));
  return div.innerHTML;
}

describe("renderMarkdown", () => {
  it("renders the common block and inline forms", () => {
    const out = html("# Title\n\nSome *em*, **strong**, `code` and [a link](https://example.com).\n\n- one\n- two\n\n```python\nx = 1\n```");
    expect(out).toContain("<h1>Title</h1>");
    expect(out).toContain("<em>em</em>");
    expect(out).toContain("<strong>strong</strong>");
    expect(out).toContain("<code>code</code>");
    expect(out).toContain('<a href="https://example.com"');
    expect(out).toContain("<ul><li>one</li><li>two</li></ul>");
    expect(out).toContain('<pre><code data-lang="python">x = 1</code></pre>');
  });

  it("never turns user text into markup", () => {
    const div = document.createElement("div");
    div.append(renderMarkdown('<script>alert(1)</script>\n\n<img src=x onerror="alert(1)"> **<b>x</b>**\n\n[bad](javascript:alert(1))'));
    expect(div.querySelector("script")).toBeNull();
    expect(div.querySelector("img")).toBeNull();
    expect(div.querySelector("b")).toBeNull();
    expect(div.querySelector("a")).toBeNull();
    expect(div.textContent).toContain("<script>alert(1)</script>");
    expect(div.textContent).toContain("[bad](javascript:alert(1))");
  });

  it("shows math as code, inline and display", () => {
    const out = html("$a^2$ and $$y = w x + b$$");
    expect(out).toContain('<code class="math">a^2</code>');
    expect(out).toContain('<code class="math">y = w x + b</code>');
  });
});
