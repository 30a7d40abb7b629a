using Cdp.Shared.Api;
using Cdp.Shared.Conversion;

namespace Cdp.Tests.Conversion;

/// <summary>The request rules of a conversion, without a database.</summary>
public sealed class ConversionRulesTests
{
    static readonly Guid Lead = Guid.NewGuid();

    [Fact]
    public void An_empty_body_converts_without_an_opportunity() =>
        Assert.Equal(new ConvertLeadRequest(Lead), ConversionRules.Parse(Lead, "  \n"u8.ToArray()));

    [Fact]
    public void A_body_is_read_in_camel_case()
    {
        var account = Guid.NewGuid();
        var request = ConversionRules.Parse(Lead, System.Text.Encoding.UTF8.GetBytes(
            $$"""{"opportunity":{"name":"商机","amount":12.5,"stage":"Proposal"},"ownerId":"u1","accountId":"{{account}}"}"""));
        Assert.Equal(new ConvertLeadRequest(Lead, new OpportunityInput("商机", 12.5m, "Proposal"), "u1", account), request);
        Assert.Empty(ConversionRules.Validate(request));
    }

    [Theory]
    [InlineData("null")]
    [InlineData("{\"opportunity\":5}")]
    [InlineData("{")]
    public void A_body_that_is_not_a_request_is_400(string json) =>
        Assert.Equal(400, Assert.Throws<ApiProblemException>(() => ConversionRules.Parse(Lead, System.Text.Encoding.UTF8.GetBytes(json))).Problem.Status);

    [Theory]
    [InlineData(" ", 1, "proposal", "opportunity.name")]
    [InlineData("商机", -0.01, "proposal", "opportunity.amount")]
    [InlineData("商机", 1, "won", "opportunity.stage")]
    public void Opportunity_rules(string name, double amount, string stage, string field) =>
        Assert.Equal([field], ConversionRules.Validate(new ConvertLeadRequest(Lead, new OpportunityInput(name, (decimal)amount, stage))).Keys);

    [Fact]
    public void Missing_amount_and_stage_default_to_zero_and_qualification()
    {
        Assert.Empty(ConversionRules.Validate(new ConvertLeadRequest(Lead, new OpportunityInput("商机", null, null))));
        Assert.Equal(("qualification", false, false), ConversionRules.Stage(null));
        Assert.Equal(("closed_lost", true, false), ConversionRules.Stage("closed_lost"));
        Assert.Equal(("negotiation", false, false), ConversionRules.Stage(" Negotiation "));
    }

    [Theory]
    [InlineData("Prospecting", false, false)]
    [InlineData("Qualification", false, false)]
    [InlineData("Needs Analysis", false, false)]
    [InlineData("Value Proposition", false, false)]
    [InlineData("Id. Decision Makers", false, false)]
    [InlineData("Perception Analysis", false, false)]
    [InlineData("Proposal/Price Quote", false, false)]
    [InlineData("Negotiation/Review", false, false)]
    [InlineData("Closed Won", true, true)]
    [InlineData("closed  lost", true, false)]
    public void Salesforce_standard_stages_are_accepted_and_mapped(string stage, bool closed, bool won)
    {
        Assert.Empty(ConversionRules.Validate(new ConvertLeadRequest(Lead, new OpportunityInput("商机", 1, stage))));
        var found = ConversionRules.Stage(stage)!.Value;
        Assert.Equal((closed, won), (found.IsClosed, found.IsWon));
    }

    [Fact]
    public void The_stage_map_setting_adds_stages_and_moves_defaults()
    {
        var stages = new OpportunityStages(new Dictionary<string, string> { ["赢单"] = "won", ["Closed Lost"] = "open", ["Parked"] = " Lost " });
        Assert.Equal(("赢单", true, true), ConversionRules.Stage("赢单", stages));
        Assert.Equal(("Closed Lost", false, false), ConversionRules.Stage("closed lost", stages));
        Assert.Equal(("Parked", true, false), ConversionRules.Stage("parked", stages));
        Assert.Null(ConversionRules.Stage("赢单"));
        Assert.Empty(ConversionRules.Validate(new ConvertLeadRequest(Lead, new OpportunityInput("商机", 1, "赢单")), stages));
        Assert.Throws<ArgumentException>(() => new OpportunityStages(new Dictionary<string, string> { ["x"] = "maybe" }));
    }

    [Fact]
    public void Already_converted_names_the_earlier_ids()
    {
        var (contact, account) = (Guid.NewGuid(), Guid.NewGuid());
        var problem = new ConversionResult(ConversionOutcome.AlreadyConverted, Lead, contact, account).ToProblem()!;
        Assert.Equal(409, problem.Status);
        Assert.Equal((contact, account), ((Guid?)problem.Extensions!["contactId"], (Guid?)problem.Extensions["accountId"]));
    }
}
