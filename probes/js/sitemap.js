// Fetch one sitemap from the page itself, so that the request goes through the context's guard like any
// other (docs/probing.md, "Finding the contact page"). Read within a size limit and a time limit.
return (async () => {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), args.timeout_ms);
  try {
    const response = await fetch(args.url, { signal: controller.signal, credentials: "same-origin" });
    const reader = response.body ? response.body.getReader() : null;
    const chunks = [];
    let size = 0;
    while (reader) {
      const { done, value } = await reader.read();
      if (done) break;
      const room = args.max_bytes - size;
      chunks.push(value.length > room ? value.slice(0, room) : value);
      size += Math.min(value.length, room);
      if (size >= args.max_bytes) {
        await reader.cancel();
        break;
      }
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    return { status: response.status, url: response.url, text: new TextDecoder().decode(bytes), error: "" };
  } catch (e) {
    return { status: 0, url: args.url, text: "", error: String(e).slice(0, 200) };
  } finally {
    clearTimeout(timer);
  }
})();
