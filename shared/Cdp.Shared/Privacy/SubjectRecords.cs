using Dapper;
using Npgsql;

namespace Cdp.Shared.Privacy;

/// <summary>
/// The rows that are one person in Postgres: contacts and leads carrying their mobile or email, plus the contact a lead of
/// theirs was converted into and the leads converted into a contact of theirs; the SDK user ids their touchpoints name
/// (as ClickHouse stores them, hashed) and the accounts whose summaries count them.
/// </summary>
public sealed record SubjectRecords(Guid[] Contacts, Guid[] Leads, Guid[] Accounts, string[] UserHashes)
{
    public Guid[] Entities => [.. Contacts, .. Leads];

    public static async Task<SubjectRecords> FindAsync(
        NpgsqlConnection conn, NpgsqlTransaction? tx, PrivacySubject subject, SubjectHash hash, CancellationToken ct)
    {
        var p = new { mobile = subject.Mobile, email = subject.Email };
        var contacts = (await conn.QueryAsync<Guid>(new CommandDefinition("""
            select contact_id from contact where mobile_phone = @mobile or email = @email
            union
            select converted_contact_id from lead where (mobile_phone = @mobile or email = @email) and converted_contact_id is not null
            """, p, tx, cancellationToken: ct))).ToArray();
        var leads = (await conn.QueryAsync<Guid>(new CommandDefinition("""
            select lead_id from lead where mobile_phone = @mobile or email = @email or converted_contact_id = any(@contacts)
            """, new { p.mobile, p.email, contacts }, tx, cancellationToken: ct))).ToArray();
        var accounts = (await conn.QueryAsync<Guid>(new CommandDefinition("""
            select account_id from account_contact_relation where contact_id = any(@contacts)
            union
            select primary_account_id from contact where contact_id = any(@contacts) and primary_account_id is not null
            """, new { contacts }, tx, cancellationToken: ct))).ToArray();
        var userIds = await conn.QueryAsync<string>(new CommandDefinition("""
            select distinct details->>'userId' from touchpoint
             where (contact_id = any(@contacts) or lead_id = any(@leads)) and details->>'userId' is not null
            """, new { contacts, leads }, tx, cancellationToken: ct));
        // A website may use the person's mobile or email as its userId.
        var hashes = userIds.Append(subject.Mobile).Append(subject.Email).OfType<string>().Select(hash.UserId).Distinct().Order().ToArray();
        return new SubjectRecords(contacts, leads, accounts, hashes);
    }
}
