// Set the theme before the first paint (main.ts keeps it in sync afterwards). A file of its own,
// not an inline script: the server's Content-Security-Policy allows scripts from the app only.
try {
  var t = localStorage.getItem("gradlab-theme");
  if (t !== "light" && t !== "dark") t = matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  document.documentElement.dataset.theme = t;
} catch (e) {}
