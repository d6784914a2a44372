require ["vnd.dovecot.filter"];
# Encrypt for the recipient if their account has encryption at rest on.
filter "latchkey-encrypt";
