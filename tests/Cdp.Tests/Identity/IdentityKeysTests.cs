using Cdp.Shared.Cleansing;
using Cdp.Shared.Identity;
using Cdp.Shared.Ingestion;

namespace Cdp.Tests.Identity;

public class IdentityKeysTests
{
    [Fact]
    public void ContactWithCompanyLocksItsKeysAndTheCompanysSorted()
    {
        var clean = RecordCleanser.Cleanse(new CustomerRecord
        {
            Channel = "crm", SourceId = "C-1", Kind = EntityKind.Contact, ModifiedAt = DateTimeOffset.UtcNow,
            Name = "张伟", Mobile = "13812345678", Email = "A@Example.com", WeComExternalUserId = "wm1",
            Company = "北京字节跳动科技有限公司", CreditCode = "91110000802100433B",
        }).Clean!;

        var keys = IdentityKeys.For(clean);

        Assert.Equal(
        [
            "account:code:91110000802100433B", "account:name:北京字节跳动科技有限公司",
            "contact:email:a@example.com", "contact:mobile:13812345678", "contact:source:crm:C-1", "contact:wecom:wm1",
        ], keys);
    }

    [Fact]
    public void LeadLocksWeChatIdsButNoAccount()
    {
        var clean = RecordCleanser.Cleanse(new CustomerRecord
        {
            Channel = "wechat", SourceId = "o1", Kind = EntityKind.Lead, ModifiedAt = DateTimeOffset.UtcNow,
            Name = "李娜", Company = "某某有限公司", OpenId = "o1", UnionId = "u1",
        }).Clean!;

        Assert.Equal(["lead:openid:o1", "lead:source:wechat:o1", "lead:unionid:u1"], IdentityKeys.For(clean));
    }
}
