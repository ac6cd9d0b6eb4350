// Server mode: the page calls the clipmed HTTP API of the server it was loaded from.

export class ApiError extends Error {}

export class Api {
  constructor(
    private readonly base: string,
    private readonly token: () => string,
  ) {}

  private headers(): Record<string, string> {
    const t = this.token();
    return t ? { authorization: `Bearer ${t}` } : {};
  }

  private async check(r: Response): Promise<Response> {
    if (r.ok) return r;
    let detail = `${r.status} ${r.statusText}`;
    try {
      const p = await r.json();
      if (p.detail) detail = `${r.status}: ${p.detail}`;
    } catch {
      // not a problem document
    }
    throw new ApiError(detail);
  }

  async get(path: string): Promise<Response> {
    return this.check(await fetch(this.base + path, { headers: this.headers() }));
  }

  async post(path: string, body: FormData | string, json = false): Promise<Response> {
    const headers = { ...this.headers(), ...(json ? { 'content-type': 'application/json' } : {}) };
    return this.check(await fetch(this.base + path, { method: 'POST', body, headers }));
  }
}
