"""The sanitizer's corpus: realistic samples of secrets (all fake) and of text that only looks
like one. tests/test_sanitize.py measures recall and false positives on it; the fault tests
check that none of the secrets reaches the database, the log or a receiver."""

A40 = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example secret shape
B36 = "0123456789abcdefghijABCDEFGHIJ012345"

# (kind, text, the secret that must vanish)
POSITIVES = [
    ("anthropic_key", "export ANTHROPIC_API_KEY=sk-ant-api03-Xy7dK2mQ9vLp4RtZ8wNc1bHf6", "sk-ant-api03-Xy7dK2mQ9vLp4RtZ8wNc1bHf6"),
    ("anthropic_key", "curl -H 'x-api-key: sk-ant-admin01-AbCdEfGhIjKlMnOpQrStUv12'", "sk-ant-admin01-AbCdEfGhIjKlMnOpQrStUv12"),
    ("openai_key", "OPENAI_API_KEY=sk-proj-4fR9tYqW2xZ7uI1oP3aS5dF8gH0jK6lL", "sk-proj-4fR9tYqW2xZ7uI1oP3aS5dF8gH0jK6lL"),
    ("openai_key", 'client = OpenAI(api_key="sk-9aB8cD7eF6gH5iJ4kL3mN2oP1qR0sT")', "sk-9aB8cD7eF6gH5iJ4kL3mN2oP1qR0sT"),
    ("aws_access_key", "aws configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_access_key", "[default]\naws_access_key_id = ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"),
    ("aws_secret_key", f"aws_secret_access_key = {A40}", A40),
    ("aws_secret_key", f'{{"AWS_SECRET_ACCESS_KEY": "{A40}"}}', A40),
    ("github_token", f"git clone https://ghp_{B36}@github.com/o/r", f"ghp_{B36}"),
    ("github_token", f"GH_TOKEN=gho_{B36} gh pr list", f"gho_{B36}"),
    ("github_token", f"ghs_{B36}", f"ghs_{B36}"),
    ("github_token", "token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"),
    ("gitlab_token", "glab auth login --token glpat-xY9zA8bC7dE6fG5hI4jK", "glpat-xY9zA8bC7dE6fG5hI4jK"),
    ("slack_token", "SLACK_BOT_TOKEN=xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp"),
    ("slack_webhook", "curl -X POST https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX", "T0000/B0000/XXXXXXXXXXXXXXXX"),
    ("stripe_key", "stripe.api_key = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("stripe_key", "STRIPE_KEY=rk_test_51H8aBcDeFgHiJkLmNoPqRsT", "rk_test_51H8aBcDeFgHiJkLmNoPqRsT"),
    ("google_api_key", "https://maps.googleapis.com/maps/api/js?key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),
    ("npm_token", f"//registry.npmjs.org/:_authToken=npm_{B36}", f"npm_{B36}"),
    ("pypi_token", "password = pypi-AgEIcHlwaS5vcmcCJGExYjJjM2Q0LWU1ZjYtNzg5MC1hYmNkLWVmMDEyMzQ1Njc4OQACKlszLCJ", "pypi-AgEIcHlwaS5vcmcCJGExYjJjM2Q0LWU1ZjYtNzg5MC1hYmNkLWVmMDEyMzQ1Njc4OQACKlszLCJ"),
    ("jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2mN\n-----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2mN"),
    ("private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u\n-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u"),
    ("private_key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
    ("url_password", "psql postgres://app:S3cr3tPa55@db.internal:5432/prod", "S3cr3tPa55"),
    ("url_password", "REDIS_URL=redis://default:hunter2hunter2@cache:6379/0", "hunter2hunter2"),
    ("url_password", "git remote add origin https://bob:my-pw-123@git.example.com/r.git", "my-pw-123"),
    ("assignment", "mysql -u root --password=Tr0ub4dor3", "Tr0ub4dor3"),
    ("assignment", 'DB_PASSWORD="correct-horse-battery"', "correct-horse-battery"),
    ("assignment", "config = {'secret': 'xq9-zz8-yy7'}", "xq9-zz8-yy7"),
    ("assignment", "Server=db;User Id=sa;Password=P@ssw0rd!;", "P@ssw0rd!"),
    ("assignment", "curl 'https://api.example.com/v1/items?api_key=3f9a8b7c6d5e'", "3f9a8b7c6d5e"),
    ("assignment", 'requests.get(url, params={"token": "abc123def456"})', "abc123def456"),
    ("bearer_token", "curl -H 'Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0' https://x", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
    ("bearer_token", "authorization: bearer dGhpcy1pcy1hLWZha2UtdG9rZW4tMTIz", "dGhpcy1pcy1hLWZha2UtdG9rZW4tMTIz"),
]  # fmt: skip

NEGATIVES = [
    "def get_password(user):\n    return vault.read(user)",
    "password = get_password()",
    "def login(token: str, password: str) -> bool:",
    "secret = os.environ['APP_SECRET']",
    "if not token:\n    raise ValueError('missing token')",
    "pip install scikit-learn sk-video",
    "uv add sk-learn-helpers-for-everyone-here",
    "git checkout -b feature/AKIA-migration",
    "https://example.com:8080/path?query=1",
    "ssh-keygen -t ed25519 -f ~/.ssh/id_ed25519",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n-----END PUBLIC KEY-----",
    "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    "The password must be at least 12 characters.",
    "export PATH=$HOME/.local/bin:$PATH",
    "tokens = tokenizer.encode(text)",
    "ls -la /etc/ssl/private",
    "npm install left-pad",
    "Bearer tokens are sent in the Authorization header.",
    "user@example.com wrote: see https://docs.example.com/a/b",
]
