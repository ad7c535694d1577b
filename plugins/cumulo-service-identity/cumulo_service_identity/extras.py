"""Keystone's stored-only resources: domain configurations, policy blobs (``/v3/policies``) and
OS-OAUTH1 consumers.

Cumulo keeps and serves these as Keystone does; it does not act on them: a domain configuration
does not (yet) give the domain its own identity backend, the policy blobs are documents for other
services, and a consumer has no OAuth1 token flow behind it.

A domain configuration holds Keystone's allowed options only, by group (``identity``,
``ldap``); ``ldap.password`` is sensitive: stored, never shown.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo.db.models.base import utcnow
from cumulo_service_identity.models import DomainConfigOption, OAuthConsumer, PolicyBlob
from cumulo_service_identity.util import loads, new_id, not_found

# The options Keystone lets a domain configuration set (DomainConfigManager.whitelisted_options).
DOMAIN_CONFIG_OPTIONS: dict[str, tuple[str, ...]] = {
    "identity": ("driver", "list_limit"),
    "ldap": (
        "url", "user", "suffix", "query_scope", "page_size", "alias_dereferencing", "debug_level",
        "chase_referrals", "user_tree_dn", "user_filter", "user_objectclass", "user_id_attribute",
        "user_name_attribute", "user_mail_attribute", "user_description_attribute", "user_pass_attribute",
        "user_enabled_attribute", "user_enabled_invert", "user_enabled_mask", "user_enabled_default",
        "user_attribute_ignore", "user_default_project_id_attribute", "user_enabled_emulation",
        "user_enabled_emulation_dn", "user_enabled_emulation_use_group_config",
        "user_additional_attribute_mapping", "group_tree_dn", "group_filter", "group_objectclass",
        "group_id_attribute", "group_name_attribute", "group_members_are_ids", "group_member_attribute",
        "group_desc_attribute", "group_attribute_ignore", "group_additional_attribute_mapping",
        "tls_cacertfile", "tls_cacertdir", "use_tls", "tls_req_cert", "use_pool", "pool_size",
        "pool_retry_max", "pool_retry_delay", "pool_connection_timeout", "pool_connection_lifetime",
        "use_auth_pool", "auth_pool_size", "auth_pool_connection_lifetime",
    ),
}
SENSITIVE_OPTIONS: dict[str, tuple[str, ...]] = {"identity": (), "ldap": ("password",)}


def _check_group(group: str) -> None:
    if group not in DOMAIN_CONFIG_OPTIONS:
        raise exception.Forbidden(f"Group {group} is not supported in a domain configuration "
                                  f"(only {', '.join(DOMAIN_CONFIG_OPTIONS)}).")


def _check_option(group: str, option: str) -> None:
    _check_group(group)
    if option not in DOMAIN_CONFIG_OPTIONS[group] and option not in SENSITIVE_OPTIONS[group]:
        raise exception.Forbidden(f"Option {option} in group {group} is not supported in a domain configuration.")


def check_domain_config(config: Any) -> dict[str, dict[str, Any]]:
    """``{group: {option: value}}`` with supported groups and options only.

    :raises ValidationError: not that shape, or empty.
    :raises Forbidden: an unsupported group or option (Keystone's InvalidDomainConfig).
    """
    if not isinstance(config, dict) or not config:
        raise exception.ValidationError(field="config", reason="must be a non-empty object of groups")
    for group, options in config.items():
        if not isinstance(options, dict) or not options:
            raise exception.ValidationError(field=f"config.{group}", reason="must be a non-empty object of options")
        for option in options:
            _check_option(group, option)
    return config


def policy_dict(p: PolicyBlob) -> dict[str, Any]:
    return {**loads(p.extra, {}), "id": p.id, "type": p.type, "blob": p.blob}


def consumer_dict(c: OAuthConsumer, secret: bool = False) -> dict[str, Any]:
    out = {**loads(c.extra, {}), "id": c.id, "description": c.description}
    if secret:
        out["secret"] = c.secret
    return out


class ExtrasMixin:
    """Needs from the Service: ``conf`` and ``get_domain``."""

    conf: Any

    if TYPE_CHECKING:  # from the Service's other mixins; mypy checks these agree with them
        def get_domain(self, domain_id: str) -> dict[str, Any]: ...

    # -- domain configurations -------------------------------------------------
    def _config_rows(self, s: Any, domain_id: str) -> list[DomainConfigOption]:
        return list(s.scalars(sa.select(DomainConfigOption).where(DomainConfigOption.domain_id == domain_id)))

    def _config_view(self, domain_id: str, group: str | None = None, option: str | None = None) -> dict[str, Any]:
        self.get_domain(domain_id)
        with db.reader() as s:
            rows = [r for r in self._config_rows(s, domain_id) if not r.sensitive]
        config: dict[str, dict[str, Any]] = {}
        for r in rows:
            config.setdefault(r.group, {})[r.option] = loads(r.value, None)
        if not config:
            raise not_found("domain config", domain_id)
        if group is None:
            return config
        _check_group(group)
        if group not in config:
            raise not_found("domain config group", f"{group} of {domain_id}")
        if option is None:
            return {group: config[group]}
        _check_option(group, option)
        if option not in config[group]:
            raise not_found("domain config option", f"{group}.{option} of {domain_id}")
        return {option: config[group][option]}

    def get_domain_config(self, domain_id: str, group: str | None = None, option: str | None = None) -> dict[str, Any]:
        """The domain's configuration (sensitive options left out), one group's, or one option's
        (``{option: value}``).

        :raises NotFound: no such domain, configuration, group or option.
        :raises Forbidden: an unsupported group or option.
        """
        return self._config_view(domain_id, group, option)

    def create_domain_config(self, domain_id: str, config: Any) -> tuple[bool, dict[str, Any]]:
        """Set the domain's whole configuration; ``(created, config)`` (created: there was none).

        :raises NotFound: no such domain. :raises ValidationError, Forbidden: see :func:`check_domain_config`.
        """
        self.get_domain(domain_id)
        config = check_domain_config(config)
        with db.transaction() as s:
            created = not self._config_rows(s, domain_id)
            s.execute(sa.delete(DomainConfigOption).where(DomainConfigOption.domain_id == domain_id))
            self._put_options(s, domain_id, config)
        return created, self._config_view(domain_id)

    @staticmethod
    def _put_options(s: Any, domain_id: str, config: dict[str, dict[str, Any]]) -> None:
        for group, options in config.items():
            for option, value in options.items():
                row = s.get(DomainConfigOption, (domain_id, group, option))
                if row is None:
                    row = DomainConfigOption(domain_id=domain_id, group=group, option=option)
                    s.add(row)
                row.value = json.dumps(value)
                row.sensitive = option in SENSITIVE_OPTIONS[group]

    def update_domain_config(self, domain_id: str, config: Any, group: str | None = None,
                             option: str | None = None) -> dict[str, Any]:
        """Merge ``config`` into the domain's configuration, a group of it (``config`` holds only that
        group, which must exist) or one option (``config`` is ``{option: value}``, the option must
        exist). Returns the whole configuration.

        :raises NotFound: no such domain, configuration, group or option.
        :raises ValidationError: ``config`` names another group or option, or is not an object.
        :raises Forbidden: an unsupported group or option.
        """
        self.get_domain(domain_id)
        if option is not None and group is not None:
            if not isinstance(config, dict) or set(config) != {option}:
                raise exception.ValidationError(field="config", reason=f"must hold option {option} only")
            _check_option(group, option)
            config = {group: config}
        elif group is not None:
            if not isinstance(config, dict) or set(config) != {group}:
                raise exception.ValidationError(field="config", reason=f"must hold group {group} only")
        config = check_domain_config(config)
        with db.transaction() as s:
            rows = self._config_rows(s, domain_id)
            if not rows:
                raise not_found("domain config", domain_id)
            present = {(r.group, r.option) for r in rows}
            if group is not None and group not in {g for g, _ in present}:
                raise not_found("domain config group", f"{group} of {domain_id}")
            if option is not None and (group, option) not in present:
                raise not_found("domain config option", f"{group}.{option} of {domain_id}")
            self._put_options(s, domain_id, config)
        return self._config_view(domain_id)

    def delete_domain_config(self, domain_id: str, group: str | None = None, option: str | None = None) -> None:
        """Delete the whole configuration, a group or an option; :raises NotFound: none of it exists."""
        self.get_domain(domain_id)
        if group is not None:
            _check_group(group)
        if option is not None and group is not None:
            _check_option(group, option)
        with db.transaction() as s:
            q = sa.delete(DomainConfigOption).where(DomainConfigOption.domain_id == domain_id)
            if group is not None:
                q = q.where(DomainConfigOption.group == group)
            if option is not None:
                q = q.where(DomainConfigOption.option == option)
            if not getattr(s.execute(q), "rowcount", 0):
                raise not_found("domain config", "/".join(x for x in (domain_id, group, option) if x))

    def default_domain_config(self, group: str | None = None, option: str | None = None) -> dict[str, Any]:
        """What a domain without its own configuration gets: this cloud's settings where it has
        them (``identity.driver`` is ``[identity] backend``), else None; sensitive options left out.

        :raises Forbidden: an unsupported group or option.
        """
        defaults: dict[str, dict[str, Any]] = {
            "identity": {"driver": self.conf.identity.backend, "list_limit": self.conf.identity.list_limit},
            "ldap": {o: self._conf_value("ldap", o) for o in DOMAIN_CONFIG_OPTIONS["ldap"]},
        }
        if group is None:
            return defaults
        _check_group(group)
        if option is None:
            return {group: defaults[group]}
        _check_option(group, option)
        if option in SENSITIVE_OPTIONS[group]:
            raise exception.Forbidden(f"Option {option} in group {group} is sensitive: it has no default to show.")
        return {option: defaults[group][option]}

    def _conf_value(self, group: str, option: str) -> Any:
        try:
            return getattr(getattr(self.conf, group), option)
        except Exception:  # the group or option is not registered here (no LDAP backend installed)
            return None

    # -- policy blobs (/v3/policies) -----------------------------------------------
    def create_policy(self, data: dict[str, Any]) -> dict[str, Any]:
        extra = {k: v for k, v in data.items() if k not in ("id", "type", "blob")}
        row = PolicyBlob(id=new_id(), type=data["type"], blob=data["blob"], extra=json.dumps(extra))
        with db.transaction() as s:
            s.add(row)
            s.flush()
            return policy_dict(row)

    def get_policy(self, policy_id: str) -> dict[str, Any]:
        """:raises NotFound: no such policy."""
        with db.reader() as s:
            row = s.get(PolicyBlob, policy_id)
            if row is None:
                raise not_found("policy", policy_id)
            return policy_dict(row)

    def list_policies(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        q = sa.select(PolicyBlob).order_by(PolicyBlob.created_at)
        if (filters or {}).get("type"):
            q = q.where(PolicyBlob.type == (filters or {})["type"])
        with db.reader() as s:
            return [policy_dict(p) for p in s.scalars(q)]

    def update_policy(self, policy_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """:raises NotFound: no such policy."""
        with db.transaction() as s:
            row = s.get(PolicyBlob, policy_id)
            if row is None:
                raise not_found("policy", policy_id)
            for key in ("type", "blob"):
                if key in changes:
                    setattr(row, key, changes[key])
            extra = {k: v for k, v in changes.items() if k not in ("id", "type", "blob")}
            if extra:
                row.extra = json.dumps({**loads(row.extra, {}), **extra})
            row.updated_at = utcnow()
            s.flush()
            return policy_dict(row)

    def delete_policy(self, policy_id: str) -> None:
        """:raises NotFound: no such policy."""
        with db.transaction() as s:
            row = s.get(PolicyBlob, policy_id)
            if row is None:
                raise not_found("policy", policy_id)
            s.delete(row)

    # -- OS-OAUTH1 consumers ---------------------------------------------------------
    def create_consumer(self, data: dict[str, Any]) -> dict[str, Any]:
        """A new consumer with its secret (shown only here)."""
        extra = {k: v for k, v in data.items() if k not in ("id", "description", "secret")}
        row = OAuthConsumer(id=new_id(), description=data.get("description"), secret=secrets.token_hex(16),
                            extra=json.dumps(extra))
        with db.transaction() as s:
            s.add(row)
            s.flush()
            return consumer_dict(row, secret=True)

    def get_consumer(self, consumer_id: str) -> dict[str, Any]:
        """:raises NotFound: no such consumer."""
        with db.reader() as s:
            row = s.get(OAuthConsumer, consumer_id)
            if row is None:
                raise not_found("consumer", consumer_id)
            return consumer_dict(row)

    def list_consumers(self) -> list[dict[str, Any]]:
        with db.reader() as s:
            return [consumer_dict(c) for c in s.scalars(sa.select(OAuthConsumer).order_by(OAuthConsumer.created_at))]

    def update_consumer(self, consumer_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """:raises NotFound: no such consumer. :raises ValidationError: a new secret or id."""
        for key in ("secret", "id"):
            if key in changes:
                raise exception.ValidationError(field=f"consumer.{key}", reason="cannot be changed")
        with db.transaction() as s:
            row = s.get(OAuthConsumer, consumer_id)
            if row is None:
                raise not_found("consumer", consumer_id)
            if "description" in changes:
                row.description = changes["description"]
            extra = {k: v for k, v in changes.items() if k != "description"}
            if extra:
                row.extra = json.dumps({**loads(row.extra, {}), **extra})
            row.updated_at = utcnow()
            s.flush()
            return consumer_dict(row)

    def delete_consumer(self, consumer_id: str) -> None:
        """:raises NotFound: no such consumer."""
        with db.transaction() as s:
            row = s.get(OAuthConsumer, consumer_id)
            if row is None:
                raise not_found("consumer", consumer_id)
            s.delete(row)
