document.getElementById("app").textContent = "shop";
