// A real OpenID provider (node-oidc-provider, certified) on loopback for the admin app's single sign-on
// tests. One confidential client; its dev interaction's log-in page takes any login name: the account's
// email is the name itself when it has an @, else <name>@example.test.
//
//   node tests/oidc/provider.mjs --port P --client-id ID --client-secret S --redirect-uri URI
//
// Prints "ready <issuer>" on stdout once it listens; ends on SIGTERM.
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
  },
});
for (const name of ['port', 'client-id', 'client-secret', 'redirect-uri']) {
  if (!values[name]) {
    console.error(`missing --${name}`);
    process.exit(2);
  }
}

const issuer = `http://127.0.0.1:${values.port}`;

function claimsOf(id) {
  const email = id.includes('@') ? id : `${id}@example.test`;
  return { sub: id, email, email_verified: true, name: id, preferred_username: id };
}

// Pages without outside resources (the default ones import a web font the tests cannot reach).
const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1>${body}</body></html>`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: values['client-id'],
    client_secret: values['client-secret'],
    redirect_uris: [values['redirect-uri']],
    post_logout_redirect_uris: [values['redirect-uri']],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  // The claims of the granted scopes go into the ID token: Streamlit reads the ID token, not /userinfo.
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return claimsOf(id); } };
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page('Sign out', `${form}<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p>You are signed out.</p>');
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<pre>${JSON.stringify(out).replace(/</g, '&lt;')}</pre>`);
  },
});

const server = provider.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
