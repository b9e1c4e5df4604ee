// Airflow's light or dark theme on this page. Airflow (next-themes) puts "light" or "dark" on its
// <html> and keeps the choice in localStorage "theme" ("system" follows the OS). In Airflow's
// frame (same origin) the page follows its parent as it changes; opened on its own, the stored choice.
(function () {
  const root = document.documentElement;
  const system = () => (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  function airflowTheme() {
    try {
      const parent = window.parent !== window ? window.parent.document.documentElement : null;
      if (parent && parent.classList.contains("dark")) return "dark";
      if (parent && parent.classList.contains("light")) return "light";
    } catch (error) { /* another origin: use the stored choice */ }
    let stored = null;
    try { stored = localStorage.getItem("theme"); } catch (error) { /* storage off */ }
    return stored === "dark" || stored === "light" ? stored : system();
  }
  function apply() {
    const theme = airflowTheme();
    root.classList.toggle("dark", theme === "dark");
    root.classList.toggle("light", theme !== "dark");
  }
  apply();
  try {
    if (window.parent !== window) {
      new MutationObserver(apply).observe(window.parent.document.documentElement, {attributes: true, attributeFilter: ["class"]});
    }
  } catch (error) { /* another origin */ }
  window.addEventListener("storage", apply);
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", apply);
})();
