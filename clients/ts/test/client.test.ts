// The generated client against a running server (PICSHARE_URL): the calls an app makes first.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { ProblemError, Session, unwrap } from "../src/index.js";
import { gradientPng } from "./png.js";

const baseUrl = process.env.PICSHARE_URL ?? "http://127.0.0.1:8080";
const password = "correct horse battery staple";

function handle(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
}

async function signUp(prefix: string): Promise<{ session: Session; id: string; handle: string }> {
  const session = new Session({ baseUrl });
  const name = handle(prefix);
  const user = await unwrap(
    session.client.POST("/v1/users", {
      body: { handle: name, email: `${name}@example.com`, password },
    }),
  );
  await session.logIn(name, password);
  return { session, id: user.id, handle: name };
}

test("sign up, log in, refresh, post a photo, follow and read the feed", async () => {
  const jane = await signUp("jane");
  const me = await unwrap(jane.session.client.GET("/v1/auth/me"));
  assert.equal(me.handle, jane.handle);

  const oldRefresh = jane.session.refreshToken;
  const oldAccess = jane.session.accessToken;
  await jane.session.refresh();
  assert.notEqual(jane.session.refreshToken, oldRefresh, "the refresh token is rotated");
  assert.notEqual(jane.session.accessToken, oldAccess);
  assert.equal((await unwrap(jane.session.client.GET("/v1/auth/me"))).id, jane.id);

  const media = await jane.session.uploadPhoto(gradientPng(64, 48, 1), "image/png");
  const post = await unwrap(
    jane.session.client.POST("/v1/posts", {
      body: { media_ids: [media], caption: "first light #dawn", visibility: "public" },
    }),
  );
  assert.deepEqual(post.hashtags, ["dawn"]);
  assert.equal(post.media[0]?.id, media);

  const sam = await signUp("sam");
  await unwrap(
    sam.session.client.POST("/v1/users/{id}/follow", { params: { path: { id: jane.id } } }),
  );
  const feed = await unwrap(sam.session.client.GET("/v1/feed", { params: { query: { limit: 10 } } }));
  assert.equal(feed.items[0]?.id, post.id, "jane's post heads sam's feed");
  assert.equal(feed.items[0]?.author.handle, jane.handle);
});

test("a problem+json error surfaces as a typed ProblemError", async () => {
  const session = new Session({ baseUrl });
  await assert.rejects(
    session.logIn(handle("nobody"), "wrong password entirely"),
    (error: unknown) => {
      assert.ok(error instanceof ProblemError);
      assert.equal(error.status, 401);
      assert.equal(error.code, "invalid_credentials");
      return true;
    },
  );
  const invalid = await session.client.POST("/v1/users", {
    body: { handle: "x", email: "not-an-email", password: "short" },
  });
  assert.equal(invalid.response.status, 422);
  assert.equal(invalid.error?.code, "validation_failed");
  assert.ok(
    invalid.error?.errors?.some((field) => field.field === "email"),
    JSON.stringify(invalid.error),
  );
});
