using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.VirtualNumbers;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.VirtualNumbers;

/// <summary>
/// Seed 002's privacy-number binding through the local host: the binding orchestration (attempts with a timeout,
/// durable-timer retries, NOT_BIND + one alert after the last), idempotent by request id, grey release by city, pools.
/// </summary>
public sealed class VirtualNumberTests(VirtualNumberApp app) : IClassFixture<VirtualNumberApp>
{
    static readonly TimeSpan Slack = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task An_AXB_binding_is_bound_at_the_first_attempt_and_answers_the_X_number_with_the_phones_masked()
    {
        var (a, b) = (TestData.Mobile(), TestData.Mobile());
        using var response = await BindAsync(app.Client, new { mode = "AXB", a, b, city = "北京", requestId = NewRequestId() });
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var binding = JsonSerializer.Deserialize<BindingView>(text, CdpJson.Options)!;
        Assert.Equal((BindingStates.Bind, 1), (binding.State, binding.Attempts));
        Assert.StartsWith("170", binding.VirtualNumber);
        Assert.DoesNotContain(a, text);
        Assert.DoesNotContain(b, text);
        Assert.Equal(a[..3] + "****" + a[^4..], binding.A);
        Assert.Single(app.Provider.BindCalls(binding.BindingId.ToString()));
    }

    [Fact]
    public async Task Two_failures_are_retried_on_durable_timers_and_the_third_attempt_binds()
    {
        app.Provider.FailNext(2, ProviderCodes.SystemError);
        var binding = await BindAndSettleAsync(new { mode = "AXB", a = TestData.Mobile(), b = TestData.Mobile(), city = "北京", requestId = NewRequestId() });

        Assert.Equal((BindingStates.Bind, 3), (binding.State, binding.Attempts));
        Assert.Equal(3, app.Provider.BindCalls(binding.BindingId.ToString()).Count);
        var history = await HistoryAsync(binding.BindingId);
        Assert.Equal(2, history.Count(k => k == "TimerFired"));
    }

    [Fact]
    public async Task After_the_configured_retries_the_binding_is_NOT_BIND_with_one_alert_naming_the_masked_customer_number()
    {
        var a = TestData.Mobile();
        app.Provider.FailNext(4, ProviderCodes.FlowLimit);
        try
        {
            var binding = await BindAndSettleAsync(new { mode = "AXB", a, b = TestData.Mobile(), city = "北京", requestId = NewRequestId() },
                until: v => v.State == BindingStates.NotBind, expect: [HttpStatusCode.ServiceUnavailable, HttpStatusCode.Accepted]);

            Assert.Equal((BindingStates.NotBind, 4, ProviderCodes.FlowLimit), (binding.State, binding.Attempts, binding.FailureCode));
            Assert.Equal(4, app.Provider.BindCalls(binding.BindingId.ToString()).Count);
            await UntilCompletedAsync(binding.BindingId);
            var alert = Assert.Single(app.WeCom.Alerts, t => t.Contains(binding.BindingId.ToString(), StringComparison.Ordinal));
            Assert.Contains(a[..3] + "****" + a[^4..], alert);
            Assert.DoesNotContain(a, alert);
        }
        finally { app.Provider.ClearCues(); }
    }

    [Fact]
    public async Task A_provider_that_does_not_answer_within_the_attempt_timeout_is_retried()
    {
        app.Provider.DelayNext(1, TimeSpan.FromSeconds(5));
        var binding = await BindAndSettleAsync(new { mode = "AXB", a = TestData.Mobile(), b = TestData.Mobile(), city = "北京", requestId = NewRequestId() });
        Assert.Equal((BindingStates.Bind, 2), (binding.State, binding.Attempts));
        Assert.Equal(2, app.Provider.BindCalls(binding.BindingId.ToString()).Count);
    }

    [Fact]
    public async Task Two_concurrent_clicks_with_one_request_id_make_one_binding_and_one_provider_call()
    {
        app.Provider.DelayNext(1, TimeSpan.FromMilliseconds(600));
        var body = new { mode = "AXB", a = TestData.Mobile(), b = TestData.Mobile(), city = "北京", requestId = NewRequestId() };
        var responses = await Task.WhenAll(BindAsync(app.Client, body), BindAsync(app.Client, body));
        var views = new List<BindingView>();
        foreach (var response in responses)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            views.Add((await response.Content.ReadFromJsonAsync<BindingView>(CdpJson.Options))!);
            response.Dispose();
        }
        Assert.Equal(views[0].BindingId, views[1].BindingId);
        Assert.Equal(views[0].VirtualNumber, views[1].VirtualNumber);
        Assert.Single(app.Provider.BindCalls(views[0].BindingId.ToString()));
    }

    [Fact]
    public async Task A_grey_city_goes_to_the_new_adapter_and_another_city_to_the_current_one_switched_at_run_time()
    {
        var shanghai = await BindAndSettleAsync(new { mode = "AXB", a = TestData.Mobile(), b = TestData.Mobile(), city = "上海", requestId = NewRequestId() });
        var beijing = await BindAndSettleAsync(new { mode = "AXB", a = TestData.Mobile(), b = TestData.Mobile(), city = "北京", requestId = NewRequestId() });
        Assert.Equal("dypls", Assert.Single(app.Provider.BindCalls(shanghai.BindingId.ToString())).Adapter);
        Assert.Equal("legacy", Assert.Single(app.Provider.BindCalls(beijing.BindingId.ToString())).Adapter);

        app.SetSetting("VirtualNumbers:GreyCities", "上海,北京");
        try
        {
            var after = await BindAndSettleAsync(new { mode = "XB", b = TestData.Mobile(), city = "北京", requestId = NewRequestId() });
            var call = Assert.Single(app.Provider.BindCalls(after.BindingId.ToString()));
            Assert.Equal(("dypls", "BindAxn"), (call.Adapter, call.Action));
        }
        finally { app.SetSetting("VirtualNumbers:GreyCities", "上海"); }

        // Unbound where it was bound: the legacy binding through the legacy adapter even now.
        using var deleted = await app.Client.DeleteAsync($"/api/virtual-numbers/bindings/{beijing.BindingId}");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.Equal(BindingStates.NotBind, (await deleted.Content.ReadFromJsonAsync<BindingView>(CdpJson.Options))!.State);
        Assert.Contains(app.Provider.Calls, c => c is { Adapter: "legacy", Action: "unbind" });
    }

    [Fact]
    public async Task A_wrong_AccessKey_secret_is_refused_as_SignatureDoesNotMatch_once_not_retried_and_alerted_once_naming_the_setting()
    {
        var a = TestData.Mobile();
        var secret = app.Provider.AccessKeySecret;
        app.Provider.AccessKeySecret = "rotated-at-the-provider-" + Guid.NewGuid().ToString("N")[..8];
        BindingView binding;
        try
        {
            binding = await BindAndSettleAsync(new { mode = "AXB", a, b = TestData.Mobile(), city = "上海", requestId = NewRequestId() },
                until: v => v.State == BindingStates.NotBind, expect: [HttpStatusCode.ServiceUnavailable, HttpStatusCode.Accepted]);
            await UntilCompletedAsync(binding.BindingId);
        }
        finally { app.Provider.AccessKeySecret = secret; }

        Assert.Equal((BindingStates.NotBind, 1, ProviderCodes.SignatureDoesNotMatch), (binding.State, binding.Attempts, binding.FailureCode));
        Assert.Equal(ProviderCodes.SignatureDoesNotMatch, Assert.Single(app.Provider.BindCalls(binding.BindingId.ToString())).Refused);
        Assert.Contains("VirtualNumbers:AccessKeySecret", binding.LastError);
        var alert = Assert.Single(app.WeCom.Alerts, t => t.Contains(binding.BindingId.ToString(), StringComparison.Ordinal));
        Assert.Contains("VirtualNumbers:AccessKeySecret", alert);
        // Alibaba's message quotes its string to sign (the phone numbers in it): neither kept nor sent on.
        Assert.DoesNotContain(a, alert);
        Assert.DoesNotContain(a, binding.LastError);
        Assert.Contains(app.Logs.Lines, l => l.Contains(binding.BindingId.ToString(), StringComparison.Ordinal) && l.Contains(ProviderCodes.SignatureDoesNotMatch, StringComparison.Ordinal));
        Assert.DoesNotContain(app.Logs.Lines, l => l.Contains(secret, StringComparison.Ordinal));

        // The right secret again: a failed attempt is re-signed (new nonce and timestamp) and the retry binds.
        app.Provider.FailNext(1, ProviderCodes.SystemError);
        var again = await BindAndSettleAsync(new { mode = "AXB", a, b = TestData.Mobile(), city = "上海", requestId = NewRequestId() });
        Assert.Equal((BindingStates.Bind, 2), (again.State, again.Attempts));
        Assert.All(app.Provider.BindCalls(again.BindingId.ToString()), c => Assert.Null(c.Refused));
    }

    [Fact]
    public async Task An_AccessKey_the_provider_does_not_know_fails_at_once_without_retries()
    {
        app.SetSetting("VirtualNumbers:AccessKeyId", "LTAIunknown0000000000");
        BindingView binding;
        try
        {
            binding = await BindAndSettleAsync(new { mode = "XB", b = TestData.Mobile(), city = "上海", requestId = NewRequestId() },
                until: v => v.State == BindingStates.NotBind, expect: [HttpStatusCode.ServiceUnavailable, HttpStatusCode.Accepted]);
        }
        finally { app.SetSetting("VirtualNumbers:AccessKeyId", app.Provider.AccessKeyId); }
        Assert.Equal((1, ProviderCodes.InvalidAccessKeyIdNotFound), (binding.Attempts, binding.FailureCode));
        Assert.Single(app.Provider.BindCalls(binding.BindingId.ToString()));
    }

    [Fact]
    public async Task A_number_the_provider_calls_illegal_is_refused_at_once_with_422_and_no_alert()
    {
        app.Provider.FailNext(1, ProviderCodes.MobileNumberIllegal);
        var requestId = NewRequestId();
        using var response = await BindAsync(app.Client, new { mode = "AXB", a = TestData.Mobile(), b = TestData.Mobile(), city = "北京", requestId });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("MOBILE_NUMBER_ILLEGAL", await response.Content.ReadAsStringAsync());
        Assert.Single(app.Provider.BindCalls(BindingOf(requestId)));
        Assert.DoesNotContain(app.WeCom.Alerts, t => t.Contains(BindingOf(requestId)!, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_pool_without_numbers_falls_back_to_another_citys_pool_and_all_empty_fails_clearly()
    {
        await app.SetPoolAsync("广州", "FC-gz", 10);
        await app.SetPoolAsync("深圳", "FC-sz", 20);
        app.Provider.Exhaust("FC-gz");
        try
        {
            var bound = await BindAndSettleAsync(new { mode = "AXB", a = TestData.Mobile(), b = TestData.Mobile(), city = "广州", requestId = NewRequestId() });
            Assert.Equal(["FC-gz", "FC-sz"], app.Provider.BindCalls(bound.BindingId.ToString()).Select(c => c.PoolKey));

            foreach (var pool in new[] { "FC-sz", "FC-default" }) app.Provider.Exhaust(pool);
            await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
                foreach (var pool in await conn.QueryAsync<string>("select pool_key from virtual_number_pool")) app.Provider.Exhaust(pool);
            using var refused = await BindAsync(app.Client, new { mode = "AXB", a = TestData.Mobile(), b = TestData.Mobile(), city = "广州", requestId = NewRequestId() });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Contains("No virtual number available in the pools of 广州, 深圳", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        }
        finally
        {
            app.Provider.ClearCues();
            await using var conn = await app.Database.DataSource.OpenConnectionAsync();
            await conn.ExecuteAsync("delete from virtual_number_pool");
        }
    }

    [Fact]
    public async Task A_salesperson_binds_a_customer_they_follow_from_their_own_mobile_without_seeing_the_customers_number()
    {
        var salesMobile = TestData.Mobile();
        using (var staff = await app.Client.PutAsJsonAsync("/api/admin/staff/vn-sales01", new { roles = new[] { "sales" }, mobile = salesMobile }))
            Assert.Equal(HttpStatusCode.OK, staff.StatusCode);
        using var sales = await StaffSession.SignInAsync(app, "vn-sales01", ["sales"]);
        var (mine, _) = await app.NewContactAsync(withWeCom: false);
        var (other, _) = await app.NewContactAsync(withWeCom: false);
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
            await conn.ExecuteAsync("""
                insert into customer_owner (entity_type, entity_id, staff_user_id, source, source_ref, since)
                values ('contact', @mine, 'vn-sales01', 'crm_owner', 'test', now())
                """, new { mine });

        using var response = await BindAsync(sales, new { mode = "AXB", contactId = mine, requestId = NewRequestId() });
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var view = JsonSerializer.Deserialize<BindingView>(text, CdpJson.Options)!;
        var subs = app.Provider.Subscriptions.Single(s => s.SecretNo == view.VirtualNumber);
        Assert.Equal(salesMobile, subs.PhoneB);
        Assert.DoesNotContain(subs.PhoneA!, text);

        using var outside = await BindAsync(sales, new { mode = "AXB", contactId = other, requestId = NewRequestId() });
        Assert.Equal(HttpStatusCode.NotFound, outside.StatusCode);
        using var raw = await BindAsync(sales, new { mode = "AXB", a = TestData.Mobile(), requestId = NewRequestId() });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, raw.StatusCode);
        using var others = await sales.GetAsync($"/api/virtual-numbers/bindings/{(await BindAndSettleAsync(new { mode = "XB", b = TestData.Mobile(), requestId = NewRequestId() })).BindingId}");
        Assert.Equal(HttpStatusCode.NotFound, others.StatusCode);
    }

    [Fact]
    public async Task The_X_number_route_shows_its_current_bindings()
    {
        var bound = await BindAndSettleAsync(new { mode = "XB", b = TestData.Mobile(), city = "北京", requestId = NewRequestId() });
        var number = await app.Client.GetFromJsonAsync<JsonElement>($"/api/virtual-numbers/{bound.VirtualNumber}");
        Assert.Equal(BindingStates.Bind, number.GetProperty("state").GetString());
        Assert.Equal(bound.BindingId, number.GetProperty("bindings")[0].GetProperty("bindingId").GetGuid());
    }

    string? BindingOf(string requestId)
    {
        using var conn = app.Database.DataSource.OpenConnection();
        return conn.QuerySingleOrDefault<Guid?>("select binding_id from virtual_binding where request_id = @requestId", new { requestId })?.ToString();
    }

    internal static string NewRequestId() => "click-" + Guid.NewGuid().ToString("N");

    internal static Task<HttpResponseMessage> BindAsync(HttpClient client, object body) => client.PostAsJsonAsync("/api/virtual-numbers/bindings", body);

    /// <summary>Posts, then polls the binding until <paramref name="until"/> (BIND by default).</summary>
    async Task<BindingView> BindAndSettleAsync(object body, Func<BindingView, bool>? until = null, HttpStatusCode[]? expect = null)
    {
        Guid id;
        using (var response = await BindAsync(app.Client, body))
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True((expect ?? [HttpStatusCode.OK, HttpStatusCode.Accepted]).Contains(response.StatusCode), $"{response.StatusCode}: {text}");
            id = response.IsSuccessStatusCode
                ? JsonSerializer.Deserialize<BindingView>(text, CdpJson.Options)!.BindingId
                : Guid.Parse(BindingOf(((JsonElement)JsonSerializer.SerializeToElement(body)).GetProperty("requestId").GetString()!)!);
        }
        BindingView view = null!;
        await Eventually.Until(async () =>
        {
            view = (await app.Client.GetFromJsonAsync<BindingView>($"/api/virtual-numbers/bindings/{id}", CdpJson.Options))!;
            return (until ?? (v => v.State == BindingStates.Bind))(view);
        }, Slack, $"binding {id}");
        return view;
    }

    async Task UntilCompletedAsync(Guid bindingId) =>
        await Eventually.Until(async () => (await app.Client.GetFromJsonAsync<JsonElement>($"/api/orchestrations/vn-bind-{bindingId}"))
            .GetProperty("runtimeStatus").GetString() == "Completed", Slack, "orchestration completed");

    async Task<List<string>> HistoryAsync(Guid bindingId)
    {
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        return (await conn.QueryAsync<string>("select kind from orchestration_history where instance_id = @id order by event_id",
            new { id = $"vn-bind-{bindingId}" })).ToList();
    }
}

/// <summary>The durable timer at expiry unbinds.</summary>
public sealed class VirtualNumberExpiryTests(ShortLivedVirtualNumberApp app) : IClassFixture<ShortLivedVirtualNumberApp>
{
    [Fact]
    public async Task A_binding_is_unbound_at_the_provider_when_it_expires()
    {
        using var response = await VirtualNumberTests.BindAsync(app.Client,
            new { mode = "AXB", a = TestData.Mobile(), b = TestData.Mobile(), city = "上海", requestId = VirtualNumberTests.NewRequestId() });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var bound = (await response.Content.ReadFromJsonAsync<BindingView>(CdpJson.Options))!;
        BindingView view = bound;
        await Eventually.Until(async () =>
        {
            view = (await app.Client.GetFromJsonAsync<BindingView>($"/api/virtual-numbers/bindings/{bound.BindingId}", CdpJson.Options))!;
            return view.State == BindingStates.NotBind;
        }, TimeSpan.FromSeconds(60), "unbound at expiry");
        Assert.NotNull(view.UnboundAt);
        Assert.True(view.UnboundAt >= bound.ExpiresAt.AddMilliseconds(-50), $"{view.UnboundAt} before {bound.ExpiresAt}");
        Assert.False(app.Provider.Subscriptions.Single(s => s.SecretNo == bound.VirtualNumber).Active);
        Assert.Contains(app.Provider.Calls, c => c is { Adapter: "dypls", Action: "UnbindSubscription" });
    }
}
