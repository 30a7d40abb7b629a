using Cdp.Shared.Ingestion;

namespace Cdp.Shared.Cleansing;

/// <summary>
/// Turns a channel record into one identity resolution can trust: every field normalised, keys in canonical
/// form, and the minimum each kind needs to be matched or contacted. A record is rejected with all its problems
/// at once, so whoever fixes it at the source does so in one round.
/// </summary>
public static class RecordCleanser
{
    public static CleansingResult Cleanse(CustomerRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var errors = new List<FieldError>();

        var channel = TextNormalizer.Normalize(record.Channel);
        var sourceId = TextNormalizer.Normalize(record.SourceId);
        if (channel is null)
        {
            errors.Add(new FieldError("channel", "Channel is required: the adapter must say which channel the record came from."));
        }

        if (sourceId is null)
        {
            errors.Add(new FieldError("sourceId", "SourceId is required: without it a later update cannot find this record."));
        }

        // Messages describe the problem, never the value: they end up in logs and dead-letter tables (PIPL).
        if (!MobileNumber.TryClassify(record.Mobile, out var mobileNumber, out var mobileProblem))
        {
            errors.Add(new FieldError("mobile",
                $"Mobile {mobileProblem}. Expected a mobile such as 138 1234 5678 (+86 optional) or a foreign one with its +country code."));
        }

        // Only a person's mobile stays a mobile (an identity key). A landline, 400/800/95, data-only or unallocated
        // number typed into the mobile field is kept in the phone field with its type: a switchboard is shared by
        // everyone at a company, and a data SIM or an unallocated number reaches no one, so neither may merge people.
        var mobile = mobileNumber is { IsIdentityKey: true } ? mobileNumber.Canonical : null;
        var moved = mobileNumber is { IsIdentityKey: false } ? mobileNumber : null;
        var phone = TextNormalizer.Normalize(record.Phone);
        var phoneType = moved?.TypeName
            ?? (phone is not null && MobileNumber.TryClassify(phone, out var typed, out _) ? typed?.TypeName : null);
        if (moved is not null)
        {
            phone = phone is null || phone == moved.Canonical ? moved.Canonical : $"{phone}; {moved.Canonical}";
        }

        if (!EmailAddress.TryNormalize(record.Email, out var email, out var emailProblem))
        {
            errors.Add(new FieldError("email", $"Email {emailProblem}. Expected an address such as name@example.com."));
        }

        // A code of the right shape that fails the check character is kept, marked unverified: early codes do that.
        if (!CreditCode.TryNormalize(record.CreditCode, out var creditCode, out var creditCodeProblem, out var creditCodeVerified))
        {
            errors.Add(new FieldError("creditCode",
                $"Credit code {creditCodeProblem}. Expected the 18-character unified social credit code from the business licence."));
        }

        var clean = record with
        {
            Channel = channel ?? record.Channel,
            SourceId = sourceId ?? record.SourceId,
            Name = TextNormalizer.Normalize(record.Name),
            Company = TextNormalizer.Normalize(record.Company),
            Mobile = mobile,
            // The phone field's own landlines come with extensions in too many shapes to rewrite, and they are not a
            // matching key; width-normalising is enough to make them readable.
            Phone = phone,
            Email = email,
            City = NormalizeCity(record.City),
            CreditCode = creditCode,
            Title = TextNormalizer.Normalize(record.Title),
            LeadSource = TextNormalizer.Normalize(record.LeadSource),
            CampaignId = TextNormalizer.Normalize(record.CampaignId),
            WeComExternalUserId = TextNormalizer.Normalize(record.WeComExternalUserId),
            OpenId = TextNormalizer.Normalize(record.OpenId),
            UnionId = TextNormalizer.Normalize(record.UnionId),
            UtmSource = TextNormalizer.Normalize(record.UtmSource),
            UtmCampaign = TextNormalizer.Normalize(record.UtmCampaign),
            OwnerId = TextNormalizer.Normalize(record.OwnerId),
        };

        errors.AddRange(MissingRequired(clean, reachableByPhone: moved is not null));
        if (errors.Count > 0)
        {
            return CleansingResult.Reject(errors);
        }

        var (fullName, shortName) = CompanyName.Normalize(clean.Company);
        return CleansingResult.Accept(new CleanRecord(clean, fullName, shortName, CreditCodeUnverified: creditCode is not null && !creditCodeVerified)
        {
            PhoneType = phoneType,
        });
    }

    /// <summary>"上海市" and "上海" are the same city; the bare form is what people type.</summary>
    private static string? NormalizeCity(string? city)
    {
        var text = TextNormalizer.Normalize(city);
        return text is { Length: > 1 } && text.EndsWith('市') ? text[..^1].TrimEnd() : text;
    }

    // Checked on the cleaned record, so an invalid mobile does not count as a way to reach someone; a number from the
    // mobile field that is not a person's mobile (kept in phone) does, as the record is not lost over it.
    private static IEnumerable<FieldError> MissingRequired(CustomerRecord r, bool reachableByPhone)
    {
        switch (r.Kind)
        {
            case EntityKind.Lead:
                if (r.Name is null && r.Company is null)
                {
                    yield return new FieldError("name", "A lead needs a name or a company.");
                }

                if (r.Mobile is null && r.Email is null && r.OpenId is null && r.UnionId is null
                    && r.WeComExternalUserId is null && !reachableByPhone)
                {
                    yield return new FieldError("mobile",
                        "A lead needs a valid way to reach it: mobile, email, openId, unionId or weComExternalUserId.");
                }

                break;

            case EntityKind.Contact:
                if (r.Name is null)
                {
                    yield return new FieldError("name", "A contact needs a name.");
                }

                if (r.Mobile is null && r.Email is null && r.WeComExternalUserId is null && !reachableByPhone)
                {
                    yield return new FieldError("mobile",
                        "A contact needs a valid way to reach it: mobile, email or weComExternalUserId.");
                }

                break;

            case EntityKind.Account:
                if (r.Company is null && r.CreditCode is null)
                {
                    yield return new FieldError("company",
                        "An account needs a company name or a valid unified social credit code.");
                }

                break;

            default:
                yield return new FieldError("kind", $"Unknown record kind {r.Kind}.");
                break;
        }
    }
}
