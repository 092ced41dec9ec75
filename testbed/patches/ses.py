"""SES (API v1): a domain identity's verification token, as the SES API reference describes it.

Restores, against moto 5.2.5:

- VerifyDomainIdentity answers the identity's own token, and GetIdentityVerificationAttributes
  answers that same token (moto answered one fixed token from VerifyDomainIdentity and another
  fixed one from GetIdentityVerificationAttributes, the same for every domain). The token is
  what the `_amazonses.<domain>` TXT record must hold; each region's identity of a domain has
  its own, kept while the identity exists (a repeated VerifyDomainIdentity answers it again)
  and new once the identity was deleted and verified again.

AWS: https://docs.aws.amazon.com/ses/latest/APIReference/API_VerifyDomainIdentity.html
("VerificationToken: A TXT record that you must place in the DNS settings of the domain to
complete domain verification with Amazon SES"),
https://docs.aws.amazon.com/ses/latest/APIReference/API_IdentityVerificationAttributes.html
(VerificationToken "The verification token for a domain identity"),
https://docs.aws.amazon.com/ses/latest/dg/creating-identities.html (a domain verified in
several Regions has one `_amazonses` TXT value per Region).
"""

import base64
import os
from typing import Any

from moto.core.responses import ActionResult
from moto.ses.models import SESBackend
from moto.ses.responses import EmailResponse

from ._util import around


def _tokens(backend: SESBackend) -> dict[str, str]:
    return backend.__dict__.setdefault("_capsule_tokens", {})


def _token(backend: SESBackend, domain: str) -> str:
    return _tokens(backend).setdefault(domain.lower(), base64.b64encode(os.urandom(32)).decode())


def apply() -> None:
    def verify_domain_identity(self: EmailResponse) -> Any:
        domain = self._get_param("Domain")
        self.backend.verify_domain(domain)
        return ActionResult({"VerificationToken": _token(self.backend, domain)})

    EmailResponse.verify_domain_identity = verify_domain_identity

    @around(SESBackend, "get_identity_verification_attributes")
    def get_identity_verification_attributes(original: Any, self: SESBackend, identities: Any = None) -> Any:
        found = original(self, identities)
        for identity, attributes in found.items():
            if "@" not in identity:
                attributes["VerificationToken"] = _token(self, identity)
        return found

    @around(SESBackend, "delete_identity")
    def delete_identity(original: Any, self: SESBackend, identity: str) -> Any:
        _tokens(self).pop(identity.lower(), None)
        return original(self, identity)
