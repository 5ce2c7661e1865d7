// Draw the portfolio graph with cytoscape.js from the JSON API; highlight up- and downstream.
(function () {
  const box = document.getElementById("graph");
  if (!box || typeof cytoscape === "undefined") return;
  const status = document.getElementById("graph-status");
  const colourBy = box.dataset.colour || "readiness";
  const statusColours = {
    idea: "#8a8f98", proposed: "#6b5bd2", approved: "#0b5cab", in_progress: "#00838f",
    delivered: "#1e783c", paused: "#bf7800", rejected: "#b42318",
  };
  const drlColours = { C4: "#b42318", C3: "#c2410c", C2: "#bf7800", C1: "#8a7a00", B2: "#4d7c0f", B1: "#1e783c" };

  function readinessColour(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return "#8a8f98";
    const r = Math.max(0, Math.min(1, value));
    return r < 0.5 ? "#b42318" : r < 1 ? "#bf7800" : "#1e783c";
  }

  function colourOf(data) {
    if (data.kind === "organisation") return "#3d4451";
    if (colourBy === "status") {
      return data.kind === "project" ? statusColours[data.status] || "#8a8f98" : drlColours[data.drl] || "#8a8f98";
    }
    if (data.kind === "dataset") return drlColours[data.drl] || "#8a8f98";
    return readinessColour(data.readiness);
  }

  fetch(box.dataset.src, { headers: { Accept: "application/json" } })
    .then((response) => {
      if (!response.ok) throw new Error(`the graph API answered ${response.status}`);
      return response.json();
    })
    .then((elements) => {
      elements.nodes.forEach((n) => { n.data.colour = colourOf(n.data); });
      const cy = cytoscape({
        container: box,
        elements: elements,
        wheelSensitivity: 0.3,
        style: [
          { selector: "node", style: { "background-color": "data(colour)", label: "data(label)", "font-size": 9, "min-zoomed-font-size": 11, "text-wrap": "ellipsis", "text-max-width": 120, width: 14, height: 14 } },
          { selector: "node[kind = 'dataset']", style: { shape: "round-rectangle" } },
          { selector: "node[kind = 'organisation']", style: { shape: "diamond" } },
          { selector: "edge", style: { width: 1, "line-color": "#c5cbd3", "target-arrow-shape": "triangle", "target-arrow-color": "#c5cbd3", "curve-style": "bezier", "arrow-scale": 0.6 } },
          { selector: ".faded", style: { opacity: 0.15 } },
          { selector: ".upstream", style: { "background-color": "#c2410c", "line-color": "#c2410c", "target-arrow-color": "#c2410c", opacity: 1 } },
          { selector: ".downstream", style: { "background-color": "#0b5cab", "line-color": "#0b5cab", "target-arrow-color": "#0b5cab", opacity: 1 } },
          { selector: ".focus", style: { "border-width": 3, "border-color": "#0b0c0c", opacity: 1 } },
        ],
        layout: { name: elements.nodes.length > 1500 ? "grid" : "cose", animate: false, randomize: false },
      });
      box.dataset.nodes = String(cy.nodes().length);
      status.textContent = `${cy.nodes().length} nodes and ${cy.edges().length} links drawn.`;

      function highlight(node) {
        cy.elements().removeClass("upstream downstream focus").addClass("faded");
        // Edges point from a project to what it depends on or uses: outgoers are upstream.
        const up = node.successors();
        const down = node.predecessors();
        up.removeClass("faded").addClass("upstream");
        down.removeClass("faded").addClass("downstream");
        node.removeClass("faded").addClass("focus");
        status.textContent = `${node.data("label")}: ${up.nodes().length} upstream, ${down.nodes().length} downstream.`;
      }

      cy.on("tap", "node", (event) => highlight(event.target));
      cy.on("tap", (event) => { if (event.target === cy) cy.elements().removeClass("faded upstream downstream focus"); });
      cy.on("dbltap", "node[kind = 'project']", (event) => {
        window.location.href = box.dataset.projectUrl.replace("__slug__", encodeURIComponent(event.target.data("slug") || event.target.id().replace(/^project:/, "")));
      });
      if (box.dataset.focus) {
        const node = cy.getElementById(`project:${box.dataset.focus}`);
        if (node.nonempty()) highlight(node);
      }
    })
    .catch((error) => { status.textContent = `The graph could not be drawn: ${error.message}.`; });
})();
