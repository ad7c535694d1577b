"""``[identity]`` options of the identity area. Imports only oslo.config.

Declared by :class:`cumulo_service_identity.area.IdentityArea` (registered
when the hub loads the installed areas) and listed through this
distribution's ``oslo.config.opts`` entry point.
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = "identity"

identity_opts: list[cfg.Opt] = [
    cfg.StrOpt("backend", default="sql", help="Identity backend plugin (cumulo.auth) holding users and groups."),
    cfg.StrOpt("token_provider", default="fernet", help="Token provider plugin (cumulo.auth.token)."),
    cfg.IntOpt("token_expiration", default=3600, min=60, help="Seconds a token stays valid."),
    cfg.BoolOpt("allow_rescope_scoped_token", default=True,
                help="Allow the token method to exchange a scoped token for another scope."),
    cfg.IntOpt("cache_time", default=2, min=0,
               help="Seconds this process caches users, roles and revocation events for token validation "
                    "(changes made through this process apply at once)."),
    cfg.IntOpt("password_hash_rounds", default=12, min=4, max=31,
               help="bcrypt cost factor for application credential secrets."),
    cfg.StrOpt("default_domain_id", default="default", help="Id of the domain bootstrap creates."),
    cfg.IntOpt("aws_signature_max_skew", default=900, min=1,
               help="Seconds an AWS-signed request's date may differ from this host's clock (the window "
                    "in which a replayed signature is refused too)."),
    cfg.IntOpt("aws_replay_cache_size", default=100000, min=1,
               help="Most accepted AWS header signatures this process remembers to refuse replays."),
    cfg.FloatOpt("aws_replay_grace", default=5.0, min=0,
                 help="Seconds after an AWS header signature's first use in which the same signature is "
                      "still accepted (a client sending one request twice within a second of its clock "
                      "signs both alike); after them it is a replay until the skew window ends."),
    cfg.StrOpt("credential_key_repository", sample_default="<state_path>/credential-keys",
               help="Directory of the Fernet keys that encrypt credential blobs (EC2 secrets) at rest "
                    "(default: credential-keys under [DEFAULT] state_path). Every API node must hold the same "
                    "keys; losing them loses the stored credentials."),
    cfg.IntOpt("list_limit", default=0, min=0,
               help="Most entities a list returns (0: [api] max_limit); the response says when truncated."),
]

def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """``oslo.config.opts`` entry point: the ``[identity]`` options."""
    return [(GROUP, list(identity_opts))]
