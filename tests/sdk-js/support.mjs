// What the SDK checks share: their environment, a timeout around a promise, and the simulator's
// control API.

export const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

export const server = env("RC_SERVER_URL");

export const withTimeout = (promise, ms, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)),
  ]);

export const control = async (path, body) => {
  const response = await fetch(`${server}/_sim/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`/_sim/${path} answered ${response.status}`);
  return response.json();
};
