// Entry point: routes / (notebook list) and /notebooks/<id> (a notebook).
const app = document.getElementById("app")!;
app.textContent = "Gradlab";
