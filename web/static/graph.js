// Draw the portfolio graph with cytoscape.js from the JSON API; highlight up- and downstream
// along the waits-on relation, and offer the projects as a searchable list for keyboards.
(function () {
  const box = document.getElementById("graph");
  if (!box || typeof cytoscape === "undefined") return;
  const status = document.getElementById("graph-status");
  const search = document.getElementById("graph-search");
  const list = document.getElementById("graph-projects");
  const selected = document.getElementById("graph-selected");
  const matches = document.getElementById("graph-matches");
  const colourBy = box.dataset.colour || "readiness";
  const LIST_LIMIT = 40;
  const statusColours = {
    idea: "#8a8f98", proposed: "#6b5bd2", approved: "#0b5cab", in_progress: "#00838f",
    delivered: "#1e783c", paused: "#bf7800", rejected: "#b42318",
  };
  const drlColours = { C4: "#b42318", C3: "#c2410c", C2: "#bf7800", C1: "#8a7a00", B2: "#4d7c0f", B1: "#1e783c" };

  function readinessColour(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return "#8a8f98";
    // Readiness is 0-100, as the API's readiness dimension.
    const r = Math.max(0, Math.min(100, value));
    return r < 50 ? "#b42318" : r < 100 ? "#bf7800" : "#1e783c";
  }

  function colourOf(data) {
    if (data.kind === "organisation") return "#3d4451";
    if (colourBy === "status") {
      return data.kind === "project" ? statusColours[data.status] || "#8a8f98" : drlColours[data.drl] || "#8a8f98";
    }
    if (data.kind === "dataset") return drlColours[data.drl] || "#8a8f98";
    return readinessColour(data.readiness);
  }

  // The waits-on relation, as the engine defines it (scoring/graph/unlock.py): a project waits on the
  // projects it depends on and the datasets it uses; a dataset waits on the projects that
  // produce it. Partnerships and publishing are not waiting, so they are never up- or downstream.
  function waitsOn(edge) {
    const kind = edge.data("kind");
    if (kind === "depends_on" || kind === "uses") return [edge.source(), edge.target()];
    if (kind === "produces") return [edge.target(), edge.source()];
    return null;
  }

  function walk(start, forward, cy) {
    const seen = new Set([start.id()]);
    const nodes = [];
    const edges = [];
    const queue = [start];
    while (queue.length) {
      const node = queue.shift();
      node.connectedEdges().forEach((edge) => {
        const pair = waitsOn(edge);
        if (!pair) return;
        const [waiter, awaited] = pair;
        const from = forward ? waiter : awaited;
        const to = forward ? awaited : waiter;
        if (from.id() !== node.id()) return;
        edges.push(edge);
        if (seen.has(to.id())) return;
        seen.add(to.id());
        nodes.push(to);
        queue.push(to);
      });
    }
    return { nodes: cy.collection(nodes), edges: cy.collection(edges) };
  }

  function layoutFor(count) {
    if (count > 1500) return { name: "grid" };
    // Layered (dagre) reads dependencies best on a filtered graph; the whole portfolio, with
    // its many unlinked nodes, reads better clustered by a force layout.
    if (box.dataset.layout === "layered" && typeof cytoscape("layout", "dagre") === "function") {
      // Layered: what waits sits left of what it waits on.
      return { name: "dagre", rankDir: "LR", nodeSep: 12, rankSep: 80, animate: false };
    }
    return { name: "cose", animate: false, randomize: false };
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
          { selector: "node", style: { "background-color": "data(colour)", label: "data(label)", "font-size": 12, "min-zoomed-font-size": 8, "text-wrap": "ellipsis", "text-max-width": 160, "text-valign": "bottom", "text-margin-y": 3, color: "#1b1f24", "text-background-color": "#fff", "text-background-opacity": 0.8, width: 16, height: 16, "border-width": 1, "border-color": "#0b0c0c" } },
          { selector: "node[kind = 'dataset']", style: { shape: "round-rectangle" } },
          { selector: "node[kind = 'organisation']", style: { shape: "diamond" } },
          { selector: "edge", style: { width: 1, "line-color": "#9aa3ad", "target-arrow-shape": "triangle", "target-arrow-color": "#9aa3ad", "curve-style": "bezier", "arrow-scale": 0.7 } },
          { selector: ".faded", style: { opacity: 0.12 } },
          { selector: ".upstream", style: { "background-color": "#c2410c", "line-color": "#c2410c", "target-arrow-color": "#c2410c", opacity: 1, width: 2 } },
          { selector: "node.upstream", style: { width: 18, height: 18 } },
          { selector: ".downstream", style: { "background-color": "#0b5cab", "line-color": "#0b5cab", "target-arrow-color": "#0b5cab", opacity: 1, width: 2 } },
          { selector: "node.downstream", style: { width: 18, height: 18 } },
          { selector: ".focus", style: { "border-width": 4, "border-color": "#0b0c0c", opacity: 1, width: 22, height: 22, "font-weight": "bold" } },
        ],
        layout: layoutFor(elements.nodes.length),
      });
      box.dataset.nodes = String(cy.nodes().length);
      status.textContent = `${cy.nodes().length} nodes and ${cy.edges().length} links drawn.`;

      function names(collection) {
        return collection.nodes().map((n) => n.data("label")).sort();
      }

      function describe(node, up, down) {
        const heading = document.createElement("h3");
        heading.textContent = node.data("label");
        const parts = [heading];
        [["Waits on (upstream)", up.nodes], ["Waiting on it (downstream)", down.nodes]].forEach(([label, nodes]) => {
          const p = document.createElement("p");
          const all = names(nodes);
          p.textContent = `${label}: ${all.length ? all.slice(0, 12).join("; ") + (all.length > 12 ? `; and ${all.length - 12} more` : "") : "nothing"}.`;
          parts.push(p);
        });
        if (node.data("kind") === "project") {
          const link = document.createElement("a");
          link.href = box.dataset.projectUrl.replace("__slug__", encodeURIComponent(node.data("slug")));
          link.textContent = `Open ${node.data("label")}`;
          parts.push(link);
        }
        selected.replaceChildren(...parts);
      }

      // Every project's button is a toggle: pressed for the node selected, else not.
      let chosen = null;
      function markPressed() {
        if (!list) return;
        list.querySelectorAll("button[data-node]").forEach((b) => {
          b.setAttribute("aria-pressed", b.dataset.node === chosen ? "true" : "false");
        });
      }

      function highlight(node) {
        chosen = node.id();
        markPressed();
        cy.elements().removeClass("upstream downstream focus").addClass("faded");
        const up = walk(node, true, cy);
        const down = walk(node, false, cy);
        up.nodes.union(up.edges).removeClass("faded").addClass("upstream");
        down.nodes.union(down.edges).removeClass("faded").addClass("downstream");
        node.removeClass("faded").addClass("focus");
        status.textContent = `${node.data("label")}: ${up.nodes.length} upstream, ${down.nodes.length} downstream.`;
        // Zoom to the selection so its labels are readable.
        cy.fit(node.union(up.nodes).union(down.nodes), 40);
        describe(node, up, down);
      }

      function clear() {
        chosen = null;
        markPressed();
        cy.elements().removeClass("faded upstream downstream focus");
        selected.replaceChildren();
      }

      // The keyboard's way in: projects whose title contains the search, as buttons.
      const projects = cy.nodes("[kind = 'project']").sort((a, b) => a.data("label").localeCompare(b.data("label")));
      function fillList() {
        const wanted = (search.value || "").trim().toLowerCase();
        const found = projects.filter((n) => !wanted || n.data("label").toLowerCase().includes(wanted));
        const items = found.slice(0, LIST_LIMIT).map((n) => {
          const item = document.createElement("li");
          const button = document.createElement("button");
          button.type = "button";
          button.className = "pick";
          button.dataset.node = n.id();
          button.setAttribute("aria-pressed", n.id() === chosen ? "true" : "false");
          button.textContent = n.data("label");
          item.append(button);
          return item;
        });
        if (found.length > LIST_LIMIT) {
          const more = document.createElement("li");
          more.className = "meta";
          more.textContent = `and ${found.length - LIST_LIMIT} more: narrow the search.`;
          items.push(more);
        }
        list.replaceChildren(...items);
        // The count goes in the status region (never swapped out), so a screen reader hears it.
        if (matches) {
          matches.textContent = !found.length ? "No project title contains that."
            : `${found.length} project${found.length === 1 ? " matches" : "s match"}.`;
        }
      }
      if (search && list) {
        fillList();
        search.addEventListener("input", fillList);
        list.addEventListener("click", (event) => {
          const button = event.target.closest("button[data-node]");
          if (!button) return;
          highlight(cy.getElementById(button.dataset.node));
          // Its details next, not a Tab per remaining project away: focus goes to them.
          selected.tabIndex = -1;
          selected.focus();
        });
      }

      cy.on("tap", "node", (event) => highlight(event.target));
      cy.on("tap", (event) => { if (event.target === cy) clear(); });
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
