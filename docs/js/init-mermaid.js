// Render every ```mermaid block of the guide (Mermaid is bundled with the site: no CDN).
mermaid.initialize({ startOnLoad: true, securityLevel: "strict", theme: "default" });
