"""The sanitizer's corpus: realistic samples of secrets (all fake) and of text that only looks
like one. tests/test_sanitize.py measures recall and false positives on it; the fault tests
check that none of the secrets reaches the database, the log or a receiver."""

A40 = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example secret shape
B36 = "0123456789abcdefghijABCDEFGHIJ012345"
HEX32 = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a90"
HEX64 = HEX32 + "1a3c5e7f9b2d4f6a8c0e2b4d6f8a1c3e"
ALNUM = "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBaQzWxEvRcTbYnUmIkOlP1a2B3c4D5e6F7g8H9i0J"  # 75
# The shapes `aws sts assume-role` and `aws iam create-access-key` print (indent 4).
STS_SECRET = "Zq8+Wm3/Yk7nRt2LpX9vBc4dHj6sFg1aTe5uKo0i"
STS_TOKEN = (
    "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDfakeFAKEfake0123456789abcdefghij"
    "klmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/0123456789fakeSessionTokenBodyForTests=="
)
OLD_TOKEN = (
    "FwoGZXIvYXdzEDoaDFakeTokenBodyForTestsOnly0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
)
ASSUME_ROLE = f"""{{
    "Credentials": {{
        "AccessKeyId": "ASIAY34FZKBOKMUTVV7A",
        "SecretAccessKey": "{STS_SECRET}",
        "SessionToken": "{STS_TOKEN}",
        "Expiration": "2026-11-22T15:04:05+00:00"
    }},
    "AssumedRoleUser": {{
        "AssumedRoleId": "AROA3XFRBF535PLBIFPI4:ci",
        "Arn": "arn:aws:sts::123456789012:assumed-role/deploy/ci"
    }}
}}"""
IAM_SECRET = "Ab3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA7b"
CREATE_KEY = f"""{{
    "AccessKey": {{
        "UserName": "ci",
        "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "Status": "Active",
        "SecretAccessKey": "{IAM_SECRET}",
        "CreateDate": "2026-11-22T15:04:05+00:00"
    }}
}}"""
# What `aws secretsmanager get-secret-value` prints: JSON in a JSON string.
SECRET_VALUE = (
    '{\n    "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",\n'
    '    "Name": "prod/db",\n'
    '    "SecretString": "{\\"username\\":\\"app\\",\\"password\\":\\"Sm-Pa55w0rd-9\\",'
    '\\"note\\":\\"rotated by ops\\"}",\n'
    '    "VersionStages": ["AWSCURRENT"]\n}'
)
AZURE_KEY = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="
SAS_SIG = "AbCdEf%2BGhIj0123456789KlMnOpQrStUvWxYz%3D"

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
    # -- What issue 25 found stored in clear, by class --
    # AWS CLI JSON output.
    ("aws_secret_key", ASSUME_ROLE, STS_SECRET),
    ("aws_session_token", ASSUME_ROLE, STS_TOKEN),
    ("aws_secret_key", CREATE_KEY, IAM_SECRET),
    ("aws_session_token", f'{{"Credentials": {{"SessionToken": "{OLD_TOKEN}"}}}}', OLD_TOKEN),
    ("aws_session_token", f"export AWS_SESSION_TOKEN={STS_TOKEN}", STS_TOKEN),
    # camelCase and compound field names.
    ("assignment", '{"accessToken":"d8f7a6b5-c4e3-4d2c-9b1a-0f9e8d7c6b5a","expiresIn":3600}', "d8f7a6b5-c4e3-4d2c-9b1a-0f9e8d7c6b5a"),
    ("assignment", '{"access_token": "at.Hq7-Zp3Rw9Xk2", "refreshToken": "rt.9XyZ-8wVu7TsRq6PoNm5LkJi4HgFe3DcBa2"}', "rt.9XyZ-8wVu7TsRq6PoNm5LkJi4HgFe3DcBa2"),
    ("assignment", 'const auth = { clientId: "web-app", clientSecret: "cs_Z9y8X7w6V5u4T3s2R1q0" };', "cs_Z9y8X7w6V5u4T3s2R1q0"),
    ("assignment", "oauth:\n  ClientSecret: 'Cl1ent-S3cret-Value'\n", "Cl1ent-S3cret-Value"),
    # Prefixed environment assignments.
    ("assignment", "PGPASSWORD=Pg-Hunter-2024 psql -h db -U app prod", "Pg-Hunter-2024"),
    ("assignment", "MYSQL_PWD=My5ql-Pa55 mysql -u root -e 'show databases'", "My5ql-Pa55"),
    ("assignment", "docker run -e POSTGRES_PASSWORD=pgAdm1nPw -d postgres:16", "pgAdm1nPw"),
    ("assignment", "export REDIS_PASSWORD='r3d1s pass phrase'", "r3d1s pass phrase"),
    # URL userinfo with an empty user, or an @ in the password.
    ("url_password", "redis-cli -u redis://:R3disPw0rd@cache.internal:6379/0 ping", "R3disPw0rd"),
    ("url_password", "CELERY_BROKER=amqp://guest:gu3st@Pass@rabbit:5672//", "gu3st@Pass"),
    # JSON inside JSON; quoted values with spaces.
    ("assignment", SECRET_VALUE, "Sm-Pa55w0rd-9"),
    ("assignment", '{"SecretString": "plain-s3cret-value-42"}', "plain-s3cret-value-42"),
    ("assignment", 'DB_PASSWORD="correct horse battery staple"', "correct horse battery staple"),
    ("assignment", "{'password': 'two words'}", "two words"),
    # Basic authentication, on the command line and in config files.
    ("basic_auth", "curl -H 'Authorization: Basic YWRtaW46czNjcjN0UGFzcw==' https://ci.example.com/api", "YWRtaW46czNjcjN0UGFzcw=="),
    ("basic_auth", "> GET /api HTTP/1.1\n> authorization: basic Y2ktYm90OkplbmsxbnMtQXBpLXB3\n", "Y2ktYm90OkplbmsxbnMtQXBpLXB3"),
    ("basic_auth", '{"auths": {"https://index.docker.io/v1/": {"auth": "ZG9ja2VydXNlcjpEMGNrM3ItUGE1NQ=="}}}', "ZG9ja2VydXNlcjpEMGNrM3ItUGE1NQ=="),
    ("basic_auth", "registry=https://npm.example.com/\n_auth=ZGVwbG95Ok5wLUF1dGgtczNjcjN0\n", "ZGVwbG95Ok5wLUF1dGgtczNjcjN0"),
    ("cli_password", "curl -u deploy:Curl-Pa55-word https://nexus.example.com/repository/", "Curl-Pa55-word"),
    ("cli_password", "curl -s --user 'admin:adm1n pass' -X POST https://jenkins/job/x/build", "adm1n pass"),
    ("cli_password", "mysql -h db -u root -pMy-R00t-pw prod < dump.sql", "My-R00t-pw"),
    ("cli_password", "mysqldump --password Dump-Pa55 --all-databases > all.sql", "Dump-Pa55"),
    ("cli_password", "docker login -u ci -p Dock3r-Hub-pw registry.example.com", "Dock3r-Hub-pw"),
    ("cli_password", "redis-cli -h cache -a Red1s-Auth-pw ping", "Red1s-Auth-pw"),
    ("cli_password", "sshpass -p 'Ssh-Pa55 word' ssh admin@10.0.0.5 uptime", "Ssh-Pa55 word"),
    ("assignment", "database:\n  host: db.internal\n  password: Yaml-Pa55-word\n  port: 5432", "Yaml-Pa55-word"),
    ("assignment", 'spring:\n  datasource:\n    password: "quoted yaml pw"\n', "quoted yaml pw"),
    ("assignment", "//registry.npmjs.org/:_authToken=5f8e9d2c-3b4a-4c6d-8e7f-9a0b1c2d3e4f\n", "5f8e9d2c-3b4a-4c6d-8e7f-9a0b1c2d3e4f"),
    ("netrc", "machine api.heroku.com\n  login me@example.com\n  password 4f8a9c2e-1b3d-4e5f-a6b7-c8d9e0f1a2b3\n", "4f8a9c2e-1b3d-4e5f-a6b7-c8d9e0f1a2b3"),
    ("netrc", "machine github.com login octocat password Netrc-Pa55w0rd", "Netrc-Pa55w0rd"),
    ("pgpass", "cat ~/.pgpass\ndb.internal:5432:prod:app:Pgpass-S3cret\n", "Pgpass-S3cret"),
    ("pgpass", "echo '*:*:*:postgres:Pg-Sup3r-pw' >> ~/.pgpass", "Pg-Sup3r-pw"),
    ("assignment", f"DefaultEndpointsProtocol=https;AccountName=mystore;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net", AZURE_KEY),
    ("assignment", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz3Ab4C=", "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz3Ab4C="),
    ("assignment", f"BlobEndpoint=https://x.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2026-01-01T00:00:00Z&sig={SAS_SIG}", SAS_SIG),
    ("assignment", f"az storage blob download --blob-url 'https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&sp=r&sig={SAS_SIG}'", SAS_SIG),
    # -- Credential formats of the tools a Claude Code user runs --
    ("gitlab_token", "gitlab-runner register --token glrt-t3_Xy9zA8bC7dE6fG5hI4jK", "glrt-t3_Xy9zA8bC7dE6fG5hI4jK"),
    ("gitlab_token", "gitlab-runner register --registration-token GR1348941Ab9Cd8Ef7Gh6Ij5Kl4Mn", "GR1348941Ab9Cd8Ef7Gh6Ij5Kl4Mn"),
    ("gitlab_token", "git clone https://gitlab+deploy-token-1:gldt-Ab9Cd8Ef7Gh6Ij5Kl4Mn@gitlab.com/g/p.git", "gldt-Ab9Cd8Ef7Gh6Ij5Kl4Mn"),
    ("github_token", f"gh auth status\n  - Token: ghu_{B36}", f"ghu_{B36}"),
    ("bitbucket_token", "BITBUCKET_APP_PASSWORD=ATBB3xY9zA8bC7dE6fG5hI4jK3lM2nO1pQ0rS9tU8vA1B2C3D4", "ATBB3xY9zA8bC7dE6fG5hI4jK3lM2nO1pQ0rS9tU8vA1B2C3D4"),
    ("google_oauth", '{"installed": {"client_id": "123-abc.apps.googleusercontent.com", "client_secret": "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"}}', "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"),
    ("google_oauth", "$ gcloud auth print-access-token\nya29.a0AfB_byCfakeTokenBody-0123456789_abcdefghijklmnopqrstuvwxyz", "ya29.a0AfB_byCfakeTokenBody-0123456789_abcdefghijklmnopqrstuvwxyz"),
    ("google_oauth", 'refresh_token: 1//0gFakeRefreshToken-0123456789abcdefghijklmnopqrstuvwxyz', "1//0gFakeRefreshToken-0123456789abcdefghijklmnopqrstuvwxyz"),
    ("private_key", "tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2UUlCQURBTkJna3Foa2lHOXcwQkFRRUZBQVNDQktjd2dnU2pBZ0VBQW9JQkFRQzc=", "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2UUlCQURBTkJna3Foa2lHOXcwQkFRRUZBQVNDQktjd2dnU2pBZ0VBQW9JQkFRQzc="),
    ("azure_secret", "az ad sp create-for-rbac\n  \"password\": null,\n  \"clientSecret\": null,\n  secret: Xy78Q~aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV1w", "Xy78Q~aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV1w"),
    ("huggingface_token", f"huggingface-cli login --token hf_{ALNUM[:34]}", f"hf_{ALNUM[:34]}"),
    ("digitalocean_token", f"doctl auth init -t dop_v1_{HEX64}", f"dop_v1_{HEX64}"),
    ("docker_token", "echo dckr_pat_Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9 | docker login -u ann --password-stdin", "dckr_pat_Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9"),
    ("rubygems_key", f"GEM_HOST_API_KEY: rubygems_{HEX32}{HEX32[:16]}", f"rubygems_{HEX32}{HEX32[:16]}"),
    ("nuget_key", "dotnet nuget push pkg.nupkg -k oy2abcdefghijklmnopqrstuvwxyz0123456789abcdefg", "oy2abcdefghijklmnopqrstuvwxyz0123456789abcdefg"),
    ("crates_token", "cargo login cioAbCdEfGhIjKlMnOpQrStUvWxYz012345", "cioAbCdEfGhIjKlMnOpQrStUvWxYz012345"),
    ("shopify_token", f"X-Shopify-Access-Token: shpat_{HEX32}", f"shpat_{HEX32}"),
    ("sendgrid_key", "SG.Ab1Cd2Ef3Gh4Ij5Kl6Mn7O.Pq8Rs9Tu0Vw1Xy2Za3Bc4De5Fg6Hi7Jk8Lm9No0Pq1Rs", "SG.Ab1Cd2Ef3Gh4Ij5Kl6Mn7O.Pq8Rs9Tu0Vw1Xy2Za3Bc4De5Fg6Hi7Jk8Lm9No0Pq1Rs"),
    ("twilio_key", f"twilio api:core:keys:list\nSK{HEX32}  ci-key", f"SK{HEX32}"),
    ("stripe_key", f"stripe listen --forward-to localhost:3000\nReady! Your webhook signing secret is whsec_{B36}", f"whsec_{B36}"),
    ("slack_token", "SLACK_APP_TOKEN=xapp-1-A0123456789-1234567890123-" + HEX64, "xapp-1-A0123456789-1234567890123-" + HEX64),
    ("databricks_token", f"databricks configure --token\nToken: dapi{HEX32}", f"dapi{HEX32}"),
    ("vault_token", f"Key    Value\ntoken  hvs.CAESI{ALNUM[:60]}", f"hvs.CAESI{ALNUM[:60]}"),
    ("terraform_token", f'credentials "app.terraform.io" {{ token = "AbCdEfGhIjKlMn.atlasv1.{ALNUM[:67]}" }}', f"AbCdEfGhIjKlMn.atlasv1.{ALNUM[:67]}"),
    ("pulumi_token", f"PULUMI_ACCESS_TOKEN=pul-{HEX32}{HEX32[:8]}", f"pul-{HEX32}{HEX32[:8]}"),
    ("doppler_token", f"doppler configure set token dp.st.prd.{ALNUM[:43]}", f"dp.st.prd.{ALNUM[:43]}"),
    ("atlassian_token", f"JIRA_API_TOKEN=ATATT3xFfGF0{ALNUM}{ALNUM}{ALNUM[:20]}=A1B2C3D4", f"ATATT3xFfGF0{ALNUM}{ALNUM}{ALNUM[:20]}=A1B2C3D4"),
    ("linear_key", f"Authorization: lin_api_{ALNUM[:40]}", f"lin_api_{ALNUM[:40]}"),
    ("notion_token", f"NOTION_TOKEN=ntn_{ALNUM[:46]}", f"ntn_{ALNUM[:46]}"),
    ("postman_key", f"newman run c.json --postman-api-key PMAK-{HEX32[:24]}-{HEX32}ab", f"PMAK-{HEX32[:24]}-{HEX32}ab"),
    ("sentry_token", f"SENTRY_AUTH_TOKEN=sntrys_{ALNUM[:60]}", f"sntrys_{ALNUM[:60]}"),
    ("grafana_token", f"curl -H 'Authorization: Bearer glsa_{ALNUM[:32]}_{HEX32[:8]}' https://grafana/api", f"glsa_{ALNUM[:32]}_{HEX32[:8]}"),
    ("grafana_token", f"GRAFANA_CLOUD_TOKEN=glc_{ALNUM[:40]}", f"glc_{ALNUM[:40]}"),
    ("supabase_token", f"SUPABASE_SECRET_KEY=sb_secret_{ALNUM[:32]}", f"sb_secret_{ALNUM[:32]}"),
    ("supabase_token", f"supabase login --token sbp_{HEX32}{HEX32[:8]}", f"sbp_{HEX32}{HEX32[:8]}"),
    ("groq_key", f"GROQ_API_KEY=gsk_{ALNUM[:52]}", f"gsk_{ALNUM[:52]}"),
    ("age_secret_key", "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQY", "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQY"),
    ("discord_webhook", "curl -X POST https://discord.com/api/webhooks/1234567890123456789/Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz3Ab4Cd5Ef6Gh7Ij8Kl9Mn0Op1Qr2St", "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz3Ab4Cd5Ef6Gh7Ij8Kl9Mn0Op1Qr2St"),
    ("telegram_token", "curl https://api.telegram.org/bot1234567890:AAHfakeTelegramBotToken0123456789ab/getMe", "1234567890:AAHfakeTelegramBotToken0123456789ab"),
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
    # Look-alikes of the classes above.
    '{"session_id": "8350fdb2-23dd-490c-a332-ff6a54b6b4af", "request_id": "4f8a9c2e-1b3d-4e5f-a6b7-c8d9e0f1a2b3"}',
    '"integrity": "sha512-7Ofp+Hk8Hq9Q3Yw0wZKjyzPqpZDJrW2Cc0UdC3n4Yw5g1y4pYnV+ZyP0R1bqNfZxw9E7r0TqC4KxCjN7uHd0Qw=="',
    'ETag: "9b2cf535f27731c974343645a3985328"',
    '{"data": "aGVsbG8gd29ybGQsIHRoaXMgaXMganVzdCB0ZXh0", "encoding": "base64"}',
    "echo SGVsbG8sIHdvcmxkIQ== | base64 -d",
    '{"usage": {"input_tokens": 1234, "output_tokens": 56, "cache_read_input_tokens": 0}}',
    '{"max_tokens": 4096, "token_type": "Bearer", "expires_in": 3600, "tokenizer": "cl100k_base"}',
    '{"PasswordLastUsed": "2026-11-01T10:00:00Z", "PasswordResetRequired": false, "passwordless": true}',
    '{"SecretId": "prod/db", "Name": "prod/db", "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"}',
    "class Settings(BaseModel):\n    password: SecretStr\n    api_key: str | None = None\n    token: str\n",
    "def connect(host: str, password: str = '') -> Connection:",
    "password: ${DB_PASSWORD}\ntoken: {{ .Values.token }}\nsecret: $SECRET\n",
    "Enter your password:\nForgot your password? The password field is required.",
    "Log in to the machine with your login and password, then run the tests.",
    "echo $TOKEN | docker login -u ci --password-stdin ghcr.io",
    "vault login -method=userpass username=ann password-file=/run/secrets/pw",
    "sudo passwd ann && mysql -u root -p prod",
    'curl -u admin https://ci.example.com/api && curl -u "$USER:$PASS" https://x',
    "docker run -u 1000:1000 -v $PWD:/w image && ps -u root && sort -u -t: -k1,1 f",
    "This is a basic example; Basic usage: HTTP basic authentication is supported.",
    'WWW-Authenticate: Basic realm="Restricted"',
    '{"auth": "oauth", "auth_type": "basic", "author": "Ann Lee <ann@example.com>"}',
    "ping6 fe80::1ff:fe23:4567:890a && date +%H:%M:%S:%N",
    "psql -h localhost -p 5432 -d prod -U app",
    "git log --format='%H %an' | head -3\n4b825dc642cb6eb9a060e54bf8d69288fbee4904 Ann",
    "kubectl get secret db -o jsonpath='{.data.password}' | base64 -d",
    '"AccessKeyId" and "SecretAccessKey" are printed by aws sts assume-role.',
    "npm config get registry && cat .npmrc | grep -c _authToken",
    "monkey = turkey.key_id; primary_key = 'id'; cache-key-" + HEX32,
    '{"tool_use_id": "toolu_01ABCDEFGHIJKLMNOPQRSTUV", "id": "msg_01XyZ9aBcDeFgHiJkLmNoPq"}',
    "SKIP_TESTS=1 CHECK_HEX=" + HEX32 + " SK_COUNT=3",
    "cd $PWD && env | grep PWD\nPWD=/srv/app\nOLDPWD=/srv",
    '{"permission_mode": "default", "hook_event_name": "PostToolUse", "source": "startup"}',
]
