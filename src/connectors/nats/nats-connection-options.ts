import type { OptionSpec } from '../../core/option-spec.js';

// Apart from nats-connection.ts so that the registry's option specs do not load the NATS client (issue 16).

/** Connection options shared by the `nats` source and sink. */
export const natsConnectionOptions: readonly OptionSpec[] = [
  {
    key: 'servers',
    type: 'string',
    required: true,
    description: 'NATS server URLs, comma-separated, e.g. `nats://127.0.0.1:4222`. The server needs JetStream (`-js`).',
  },
  { key: 'username', type: 'string', description: 'User name, with `password`.' },
  { key: 'password', type: 'secret', description: 'Password of `username`.' },
  { key: 'token', type: 'secret', description: 'An authentication token, instead of a user and password.' },
  {
    key: 'credentials',
    type: 'string',
    description:
      'A NATS credentials file (`.creds`: a user JWT and its NKey seed, as `nsc` writes it), instead of a user and password or token.',
  },
  {
    key: 'tls.enabled',
    type: 'boolean',
    description:
      'Require TLS, verifying the server certificate against `tls.ca` (or the system CAs) and the host name. Default: on when `tls.ca` or `tls.cert` is set or a server URL is `tls://…`; a server that requires TLS gets it either way.',
  },
  {
    key: 'tls.ca',
    type: 'string',
    description: 'PEM file of the CA certificate(s) that signed the server certificate.',
  },
  {
    key: 'tls.cert',
    type: 'string',
    description: 'PEM file of the client certificate, for a server with `verify: true` in its `tls {}` block.',
  },
  { key: 'tls.key', type: 'string', description: 'PEM file of the private key of `tls.cert` (unencrypted).' },
  {
    key: 'connect.timeout',
    type: 'duration',
    default: '10s',
    description: 'How long to wait for the server when connecting.',
  },
];
